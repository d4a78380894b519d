"""Contacts changed through the API as the admin changes them: added by hand on a stated consent basis (ledger
proof) or by double opt-in (the real confirmation email), tagged and untagged (a tag journey sees it), erased
(anonymised, suppressed, in the privacy register), listed by tag and by search; each audited with the key's
prefix; read-only keys change nothing."""

from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.consent.models import ConsentEvent
from mailer.contacts import fields as field_service
from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from mailer.privacy.models.requests import PrivacyRequest
from mailer.subscriptions.lists import create_list
from mailer.subscriptions.models.lists import Subscription
from tests.support.campaigns import subscriber

STATEMENT = "Ticked the newsletter box on the paper form at the Milan fair, 2026-11-20."


def _news() -> str:
    news = create_list("News")
    db.session.commit()
    return news.public_id


def _audits(action: str) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    return list(db.session.execute(query).scalars())


def test_add_a_contact_on_a_stated_consent_basis(api, write_key, app_ctx):
    news = _news()
    field_service.define_field("company", "Company", "ordinary")
    db.session.commit()
    body = {
        "email": "Ann@Example.com",
        "name": "Ann",
        "lists": [news],
        "basis": "has_consent",
        "statement": STATEMENT,
        "fields": {"company": "Example Ltd"},
    }
    made = api.post("/contacts", json=body)
    assert made.status_code == 201, made.get_json()
    data = made.get_json()
    assert (data["email"], data["name"], data["invited"], data["granted_lists"]) == (
        "ann@example.com",
        "Ann",
        False,
        [news],
    )
    assert [(s["list"]["id"], s["status"]) for s in data["subscriptions"]] == [(news, "confirmed")]
    assert {"key": "company", "value": "Example Ltd"}.items() <= data["fields"][0].items()
    granted = db.session.execute(select(ConsentEvent).where(ConsentEvent.action == "granted")).scalar_one()
    assert granted.source == f"api:{write_key[3:11]}" and granted.details["statement"] == STATEMENT
    [added] = _audits("contact.add")
    assert added.target_id == data["id"] and added.details["via"] == "api"
    assert added.details["api_key"] == write_key[3:11] and added.details["basis"] == "has_consent"

    again = api.post("/contacts", json=body)
    assert again.status_code == 409 and again.get_json()["detail"] == {"contact_id": data["id"]}


def test_add_a_contact_by_double_opt_in_sends_the_confirmation(api, app_ctx, worker, smtp_server):
    news = _news()
    made = api.post("/contacts", json={"email": "bo@example.com", "lists": [news], "basis": "double_opt_in"})
    assert made.status_code == 201 and made.get_json()["invited"] is True
    assert made.get_json()["granted_lists"] == []
    worker.drain()
    [received] = smtp_server.to("bo@example.com")
    assert "confirm" in received.message["Subject"].lower()
    assert db.session.execute(select(Subscription)).scalar_one().status == "pending"


def test_bad_new_contacts_are_refused_naming_the_input(api, read_api, app_ctx):
    news = _news()
    field_service.define_field("health", "Health condition", "sensitive")
    db.session.commit()
    good = {"email": "cy@example.com", "lists": [news], "basis": "has_consent", "statement": STATEMENT}
    cases = [
        ({**good, "email": "not an address"}, "email"),
        ({**good, "lists": []}, "lists"),
        ({**good, "lists": ["nope"]}, "lists"),
        ({**good, "basis": "trust_me"}, "basis"),
        ({**good, "statement": "yes"}, "statement"),
        ({**good, "fields": {"health": "asthma"}}, "fields.health"),
        ({**good, "fields": {"shoe_size": "42"}}, "fields.shoe_size"),
        ({**good, "fields": {"company": 5}}, "fields.company"),
        ({key: value for key, value in good.items() if key != "basis"}, "basis"),
    ]
    for body, field_name in cases:
        answer = api.post("/contacts", json=body)
        assert answer.status_code == 422, (body, answer.get_json())
        assert list(answer.get_json()["detail"]) == [field_name], (body, answer.get_json())
    assert db.session.execute(select(Contact)).first() is None
    assert read_api.post("/contacts", json=good).status_code == 403
    assert db.session.execute(select(Contact)).first() is None


def test_tag_untag_and_list_by_tag_and_search(api, read_api, app_ctx):
    news = create_list("News")
    ann, bo = subscriber(news, "ann@example.com"), subscriber(news, "bo@example.com")
    db.session.commit()
    tagged = api.post(f"/contacts/{ann.public_id}/tags", json={"add": ["VIP", " Trade  fair "]})
    assert tagged.status_code == 200
    assert tagged.get_json() == {
        "contact_id": ann.public_id,
        "tags": ["Trade fair", "VIP"],
        "added": ["Trade fair", "VIP"],
        "removed": [],
    }
    assert api.post(f"/contacts/{bo.public_id}/tags", json={"add": ["vip"]}).get_json()["tags"] == ["VIP"]
    assert api.get(f"/contacts/{ann.public_id}").get_json()["tags"] == ["Trade fair", "VIP"]
    assert api.get("/tags").get_json() == {
        "data": [{"name": "Trade fair", "contacts": 1}, {"name": "VIP", "contacts": 2}]
    }
    assert api.get("/tags?q=FAIR").get_json() == {"data": [{"name": "Trade fair", "contacts": 1}]}
    listed = api.get("/contacts?tag=vip").get_json()["data"]
    assert [(c["email"], c["tags"]) for c in listed] == [
        ("ann@example.com", ["Trade fair", "VIP"]),
        ("bo@example.com", ["VIP"]),
    ]
    assert [c["email"] for c in api.get("/contacts?tag=VIP&q=bo@").get_json()["data"]] == ["bo@example.com"]
    assert [c["email"] for c in api.get("/contacts?q=ANN").get_json()["data"]] == ["ann@example.com"]
    assert api.get("/contacts?tag=nobody").status_code == 404

    untagged = api.post(f"/contacts/{ann.public_id}/tags", json={"remove": ["vip", "never there"]})
    assert untagged.get_json()["tags"] == ["Trade fair"] and untagged.get_json()["removed"] == ["VIP"]
    repeat = api.post(f"/contacts/{ann.public_id}/tags", json={"remove": ["vip"]}).get_json()
    assert repeat["removed"] == [] and repeat["added"] == []
    assert [
        (row.action, row.details["tag"]) for row in _audits("contact.tag") + _audits("contact.untag")
    ] == [
        ("contact.tag", "VIP"),
        ("contact.tag", "Trade fair"),
        ("contact.tag", "VIP"),
        ("contact.untag", "VIP"),
    ]
    assert all(row.details["via"] == "api" for row in _audits("contact.tag") + _audits("contact.untag"))

    assert api.post(f"/contacts/{ann.public_id}/tags", json={}).status_code == 422
    bad = api.post(f"/contacts/{ann.public_id}/tags", json={"add": ["x" * 61]})
    assert bad.status_code == 422 and list(bad.get_json()["detail"]) == ["add"]
    assert api.post("/contacts/nope/tags", json={"add": ["a"]}).status_code == 404
    assert read_api.post(f"/contacts/{ann.public_id}/tags", json={"add": ["a"]}).status_code == 403


def test_erase_a_contact_through_the_api(api, read_api, write_key, app_ctx):
    news = create_list("News")
    ann = subscriber(news, "ann@example.com", name="Ann")
    db.session.commit()
    assert read_api.post(f"/contacts/{ann.public_id}/erase", json={}).status_code == 403
    erased = api.post(f"/contacts/{ann.public_id}/erase", json={"reason": "Asked us by phone"})
    assert erased.status_code == 200, erased.get_json()
    data = erased.get_json()
    assert data["contact_id"] == ann.public_id and data["status"] == "erased"
    shown = api.get(f"/contacts/{ann.public_id}").get_json()
    assert (shown["email"], shown["name"], shown["status"]) == (None, None, "erased")
    req = db.session.execute(select(PrivacyRequest)).scalar_one()
    assert (req.public_id, req.type, req.channel, req.status) == (
        data["request_id"],
        "erasure",
        "api",
        "completed",
    )
    [audited] = _audits("contact.erase")
    assert audited.details["via"] == "api" and audited.details["api_key"] == write_key[3:11]
    assert "ann@example.com" not in str(audited.details)
    assert (
        db.session.execute(select(ConsentEvent.action).order_by(ConsentEvent.id.desc())).first()[0]
        == "erased"
    )
    # The address is suppressed: adding it back by hand is refused.
    back = api.post(
        "/contacts",
        json={
            "email": "ann@example.com",
            "lists": [news.public_id],
            "basis": "has_consent",
            "statement": STATEMENT,
        },
    )
    assert back.status_code == 422 and "suppression list" in back.get_json()["detail"]["email"]
    assert api.post(f"/contacts/{ann.public_id}/erase", json={}).status_code == 409
    assert api.post(f"/contacts/{ann.public_id}/tags", json={"add": ["x"]}).status_code == 409
    assert api.post("/contacts/nope/erase", json={}).status_code == 404
