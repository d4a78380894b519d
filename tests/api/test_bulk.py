"""Bulk actions through the API (issue 15, API parity): the same jobs as the contacts page, run by the real
worker; a list addition's confirmation emails arrive over SMTP; an erasure asks for its reason and the typed
confirmation exactly as the admin does."""

from sqlalchemy import select

from mailer.contacts.models.contact import Contact
from mailer.contacts.tags import tags_of
from mailer.core.extensions import db
from mailer.segments.operations import save_segment
from mailer.staff.accounts import create_staff
from mailer.staff.api_keys import create_key
from mailer.subscriptions.lists import create_list
from tests.api.helpers import ApiClient
from tests.support.people import bare_contacts


def test_add_to_a_list_by_double_opt_in_sends_each_their_confirmation(api, app_ctx, worker, smtp_server):
    news = create_list("News")
    db.session.commit()
    ann, bob = bare_contacts(2)
    body = {"action": "list_add", "list_id": news.public_id, "contacts": [ann.public_id, bob.public_id]}
    no_basis = api.post("/bulk-jobs", json=body)
    assert no_basis.status_code == 422 and "agreed to receive mail" in no_basis.get_json()["error"]
    started = api.post("/bulk-jobs", json={**body, "basis": "double_opt_in"})
    assert started.status_code == 202, started.get_json()
    job = started.get_json()
    assert job["total"] == 2 and job["status"] == "queued"
    worker.drain()
    done = api.get(f"/bulk-jobs/{job['id']}").get_json()
    assert (done["status"], done["processed"], done["changed"], done["percent"]) == ("done", 2, 2, 100)
    assert len(smtp_server.to(ann.email)) == 1 and len(smtp_server.to(bob.email)) == 1
    assert [j["id"] for j in api.get("/bulk-jobs").get_json()["data"]] == [job["id"]]


def test_tag_a_segments_members(api, read_api, app_ctx, worker):
    people = bare_contacts(3)
    segment = save_segment(
        "Example people",
        {"match": "all", "rules": [{"field": "email_domain", "op": "is", "value": "example.com"}]},
        None,
    )
    db.session.commit()
    preview = read_api.post(
        "/bulk-jobs/preview", json={"action": "tag", "tag": "VIP", "segment_id": segment.public_id}
    )
    assert preview.status_code == 200, preview.get_json()
    assert preview.get_json() == {
        "action": "tag",
        "subject": "Add the tag “VIP”",
        "total": 3,
        "confirm": None,
    }
    refused = read_api.post(
        "/bulk-jobs", json={"action": "tag", "tag": "VIP", "segment_id": segment.public_id}
    )
    assert refused.status_code == 403
    started = api.post("/bulk-jobs", json={"action": "tag", "tag": "VIP", "segment_id": segment.public_id})
    assert started.status_code == 202
    worker.drain()
    tagged = tags_of([p.id for p in people])
    assert all([t.name for t in tagged.get(p.id, [])] == ["VIP"] for p in people)


def test_erasure_needs_the_reason_and_the_typed_confirmation(api, app_ctx, worker):
    ann, bob, cy = bare_contacts(3)
    chosen = {"action": "erase", "contacts": [ann.public_id, bob.public_id]}
    preview = api.post("/bulk-jobs/preview", json=chosen).get_json()
    assert preview["total"] == 2 and preview["confirm"] == "ERASE 2"
    for extra, words in [
        ({"confirm": "ERASE 2"}, "Say why"),
        ({"reason": "Asked by letter", "confirm": "ERASE 3"}, "Type ERASE 2"),
        ({"reason": "Asked by letter"}, "Type ERASE 2"),
    ]:
        refused = api.post("/bulk-jobs", json={**chosen, **extra})
        assert refused.status_code == 422 and words in refused.get_json()["error"], refused.get_json()
    assert api.get("/bulk-jobs").get_json()["data"] == []  # nothing started
    started = api.post("/bulk-jobs", json={**chosen, "reason": "Asked by letter", "confirm": "ERASE 2"})
    assert started.status_code == 202, started.get_json()
    worker.drain()
    db.session.expire_all()
    statuses = dict(db.session.execute(select(Contact.id, Contact.status)).all())
    assert (statuses[ann.id], statuses[bob.id], statuses[cy.id]) == ("erased", "erased", "active")


def test_only_a_key_made_by_an_owner_or_privacy_officer_erases_in_bulk(client, app_ctx, worker):
    """As in the admin (admin.bulk_erase): a key made by a marketer may tag in bulk but not erase."""
    ann, bob = bare_contacts(2)
    marketer = create_staff("mia@example.com", "a long passphrase nobody guesses 7", "marketer")
    db.session.commit()
    _, secret = create_key("Marketing tool", "read_write", marketer)
    db.session.commit()
    marketing_tool = ApiClient(client, secret)
    chosen = {"action": "erase", "contacts": [ann.public_id, bob.public_id]}
    assert marketing_tool.post("/bulk-jobs/preview", json=chosen).get_json()["confirm"] == "ERASE 2"
    erase = {**chosen, "reason": "Asked by letter", "confirm": "ERASE 2"}
    refused = marketing_tool.post("/bulk-jobs", json=erase)
    assert refused.status_code == 403 and "owner or a privacy officer" in refused.get_json()["error"]
    tag = {"action": "tag", "tag": "vip", "contacts": [ann.public_id]}
    tagged = marketing_tool.post("/bulk-jobs", json=tag)
    assert tagged.status_code == 202, tagged.get_json()
    worker.drain()
    db.session.expire_all()
    assert {c.status for c in db.session.scalars(select(Contact))} == {"active"}  # nobody erased
    tagged = tags_of([ann.id, bob.id])
    assert [tag.name for tag in tagged.get(ann.id, [])] == ["vip"] and not tagged.get(bob.id)
    assert [job["action"] for job in marketing_tool.get("/bulk-jobs").get_json()["data"]] == ["tag"]


def test_selections_and_wrong_input_are_refused(api, app_ctx):
    (ann,) = bare_contacts(1)
    for body, status in [
        ({"action": "tag", "tag": "x"}, 422),  # nobody named
        ({"action": "tag", "tag": "x", "contacts": [ann.public_id], "segment_id": "s"}, 422),
        ({"action": "tag", "tag": "x", "segment_id": "nope"}, 422),
        ({"action": "tag", "tag": "x", "contacts": ["nobody"]}, 422),
        ({"action": "fly", "contacts": [ann.public_id]}, 422),
        ({"action": "list_add", "list_id": "nope", "contacts": [ann.public_id]}, 422),
        ({"action": "tag", "tag": 5, "contacts": [ann.public_id]}, 422),
        ({"action": "tag", "tag": "x", "contacts": ["a"] * 1001}, 422),
    ]:
        assert api.post("/bulk-jobs", json=body).status_code == status, body
    assert api.get("/bulk-jobs/nope").status_code == 404
    assert api.get("/bulk-jobs").get_json()["data"] == []
