"""Lists and campaigns through the API: pages by cursor, single items, progress numbers, bad input."""

from sqlalchemy import select

from mailer.campaigns.models import Campaign
from mailer.contacts.models.contact import Contact
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery.models import Delivery
from mailer.subscriptions.lists import archive_list, create_list, delete_list
from tests.api.helpers import signup_body


def test_lists_with_counts(api, demo_form):
    api.post("/subscriptions", json=signup_body("ann@example.com"))
    data = api.get("/lists").get_json()
    [demo] = data["data"]
    assert demo["id"] == demo_form.lists[0].public_id and demo["name"] == demo_form.lists[0].name
    assert demo["subscribers"] == {"pending": 1, "confirmed": 0, "unsubscribed": 0}
    assert data["next_cursor"] is None
    assert api.get(f"/lists/{demo['id']}").get_json() == demo


def test_lists_page_by_cursor(api, app_ctx):
    made = [create_list(f"List {n}").public_id for n in range(5)]
    db.session.commit()
    seen, after = [], None
    while True:
        page = api.get("/lists?limit=2" + (f"&after={after}" if after else "")).get_json()
        assert len(page["data"]) <= 2
        seen += [item["id"] for item in page["data"]]
        after = page["next_cursor"]
        if after is None:
            break
    assert seen == made


def test_lists_bad_paging_and_unknown_id(api, app_ctx):
    for query in ("limit=-1", "limit=1.5", "limit=1000", "after=" + "x" * 200, "after=unknown"):
        response = api.get(f"/lists?{query}")
        assert response.status_code == 422, query
        assert set(response.get_json()["detail"]) <= {"limit", "after"}
    missing = api.get("/lists/nope")
    assert missing.status_code == 404 and missing.get_json() == {
        "error": "There is no list with this id.",
        "detail": {"list_id": "nope"},
    }


def _campaign(name: str, status: str, lists=()) -> Campaign:
    campaign = Campaign(name=name, subject=f"{name}!", status=status, lists=list(lists))
    db.session.add(campaign)
    db.session.flush()
    return campaign


def test_campaigns_with_status_and_progress(api, demo_form):
    draft = _campaign("Draft", "draft")
    sending = _campaign("Spring news", "sending", demo_form.lists)
    sending.started_at = utcnow()
    for n, status in enumerate(["sent", "sent", "queued", "failed"]):
        contact = Contact(email=f"c{n}@example.com", email_hash=f"h{n}", attributes={})
        db.session.add(contact)
        db.session.flush()
        db.session.add(Delivery(campaign_id=sending.id, contact_id=contact.id, status=status))
    db.session.commit()

    listed = api.get("/campaigns").get_json()
    assert [(c["id"], c["status"]) for c in listed["data"]] == [
        (draft.public_id, "draft"),
        (sending.public_id, "sending"),
    ]
    assert "progress" not in listed["data"][0]
    only_sending = api.get("/campaigns?status=sending").get_json()["data"]
    assert [c["id"] for c in only_sending] == [sending.public_id]

    data = api.get(f"/campaigns/{sending.public_id}").get_json()
    assert data["lists"] == [demo_form.lists[0].public_id] and data["subject"] == "Spring news!"
    progress = data["progress"]
    assert (progress["sent"], progress["queued"], progress["failed"], progress["total"]) == (2, 1, 1, 4)
    assert progress["remaining"] == 1


def test_campaigns_bad_input(api, app_ctx):
    assert api.get("/campaigns?status=flying").status_code == 422
    assert api.get("/campaigns/nope").status_code == 404
    assert api.get("/campaigns?after=nope").status_code == 422
    assert db.session.execute(select(Campaign)).first() is None


def test_archived_lists_leave_the_listing_unless_asked_for(api, demo_form):
    old = create_list("Old news")
    db.session.commit()
    names = [item["name"] for item in api.get("/lists").get_json()["data"]]
    assert names == [demo_form.lists[0].name, "Old news"]
    archive_list(old)
    db.session.commit()
    active = api.get("/lists").get_json()["data"]
    assert [item["id"] for item in active] == [demo_form.lists[0].public_id]
    assert active[0]["archived_at"] is None
    assert api.get("/lists?archived=false").get_json()["data"] == active
    [archived] = api.get("/lists?archived=true").get_json()["data"]
    assert archived["id"] == old.public_id and archived["archived_at"].endswith("Z")
    assert api.get(f"/lists/{old.public_id}").get_json()["archived_at"] == archived["archived_at"]
    wrong = api.get("/lists?archived=yes")
    assert wrong.status_code == 422 and wrong.get_json()["detail"] == {"archived": "must be true or false"}


def test_a_deleted_list_leaves_the_api(api, demo_form):
    demo = demo_form.lists[0]
    delete_list(demo, demo.name)
    db.session.commit()
    assert api.get("/lists").get_json()["data"] == []
    assert api.get("/lists?archived=true").get_json()["data"] == []
    assert api.get(f"/lists/{demo.public_id}").status_code == 404
    assert api.get(f"/contacts?list={demo.public_id}").status_code == 404
