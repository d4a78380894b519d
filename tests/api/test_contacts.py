"""Contacts through the API: lookup, profile (sensitive fields masked), edits (audited, not when restricted),
the consent ledger, and unsubscribing from a list."""

import json

import pytest
from sqlalchemy import func, select

from mailer.audit.models import AuditEvent
from mailer.consent.ledger import RequestContext, record_consent
from mailer.consent.models import ConsentEvent
from mailer.contacts import fields as field_service
from mailer.core.extensions import db
from mailer.privacy.restriction import restrict
from mailer.subscriptions.models.lists import Subscription
from mailer.subscriptions.signup import confirmation_token
from tests.api.helpers import signup_body
from tests.support.signup import contact_by_email


@pytest.fixture
def ann(api, client, demo_form):
    """A confirmed subscriber of the demo list, signed up through the API."""
    assert api.post("/subscriptions", json=signup_body("ann@example.com")).status_code == 202
    assert (
        client.post(f"/confirm/{confirmation_token(contact_by_email('ann@example.com'))}").status_code == 200
    )
    return contact_by_email("ann@example.com")


def test_lookup_by_exact_address(api, ann):
    found = api.get("/contacts?email=ANN@example.com ").get_json()
    assert [c["id"] for c in found["data"]] == [ann.public_id] and found["next_cursor"] is None
    assert api.get("/contacts?email=bob@example.com").get_json() == {"data": [], "next_cursor": None}


def test_lookup_needs_a_valid_address(api, ann):
    # Without `email` the endpoint lists contacts (issue 13), so only an invalid address is refused.
    listing = api.get("/contacts")
    assert listing.status_code == 200 and [c["id"] for c in listing.get_json()["data"]] == [ann.public_id]
    invalid = api.get("/contacts?email=ann-at-example.com")
    assert invalid.status_code == 422 and "email address" in invalid.get_json()["detail"]["email"]


def test_profile_with_subscriptions_and_consent(api, ann, demo_form):
    data = api.get(f"/contacts/{ann.public_id}").get_json()
    assert (data["id"], data["email"], data["name"], data["status"]) == (
        ann.public_id,
        "ann@example.com",
        "Ann",
        "active",
    )
    [sub] = data["subscriptions"]
    assert sub["list"]["id"] == demo_form.lists[0].public_id and sub["status"] == "confirmed"
    assert sub["confirmed_at"].endswith("Z")
    [consent] = data["consent"]
    assert consent["status"] == "granted" and consent["purpose"]["list_id"] == demo_form.lists[0].public_id
    assert data["id"] != str(ann.id)  # only opaque public ids leave the app


def test_unknown_contact_is_404(api):
    response = api.get("/contacts/nobody")
    assert response.status_code == 404 and response.get_json()["error"] == "There is no contact with this id."


def test_sensitive_fields_are_masked(api, ann):
    field = field_service.define_field("card", "Membership card number", "sensitive")
    record_consent(ann, field.purpose, "granted", RequestContext("test"))
    field_service.set_value(ann, field, "4111 1111 1111 4242")
    company = field_service.define_field("company", "Company", "ordinary")
    field_service.set_value(ann, company, "Example Ltd")
    db.session.commit()

    response = api.get(f"/contacts/{ann.public_id}")
    assert "4111" not in response.text
    fields = {f["key"]: f for f in response.get_json()["fields"]}
    assert fields["card"]["value"] == "•••• 4242" and fields["card"]["masked"] is True
    assert fields["company"]["value"] == "Example Ltd" and fields["company"]["masked"] is False
    found = api.get("/contacts?email=ann@example.com")
    assert "4111" not in found.text
    assert {f["key"]: f["value"] for f in found.get_json()["data"][0]["fields"]}["card"] == "•••• 4242"


def test_patch_changes_name_and_attributes_and_is_audited(api, ann, write_key):
    response = api.patch(
        f"/contacts/{ann.public_id}", json={"name": "Ann Smith", "attributes": {"plan": "gold", "visits": 3}}
    )
    assert response.status_code == 200, response.text
    data = response.get_json()
    assert data["name"] == "Ann Smith" and data["attributes"] == {"plan": "gold", "visits": 3}
    assert data["changed"] == ["name", "attributes"]
    merged = api.patch(
        f"/contacts/{ann.public_id}", json={"attributes": {"visits": None, "vip": True}}
    ).get_json()
    assert merged["attributes"] == {"plan": "gold", "vip": True}

    # The contact's audit rows (setting up the demo form is audited too, as form.created).
    audits = (
        db.session.execute(
            select(AuditEvent).where(AuditEvent.target_type == "contact").order_by(AuditEvent.id)
        )
        .scalars()
        .all()
    )
    assert [(a.action, a.target_id, a.details["api_key"], a.details["fields_changed"]) for a in audits] == [
        ("contact.edit", ann.public_id, write_key[3:11], ["name", "attributes"]),
        ("contact.edit", ann.public_id, write_key[3:11], ["attributes"]),
    ]
    assert "Ann Smith" not in json.dumps(
        [a.details for a in audits]
    )  # the log names what changed, not values


def test_patch_sets_ordinary_fields_but_sensitive_ones_need_consent(api, ann):
    field_service.define_field("company", "Company", "ordinary")
    field_service.define_field("health", "Health condition", "sensitive")
    db.session.commit()
    ok = api.patch(f"/contacts/{ann.public_id}", json={"fields": {"company": "Example Ltd"}})
    assert ok.status_code == 200 and ok.get_json()["changed"] == ["company"]
    refused = api.patch(f"/contacts/{ann.public_id}", json={"fields": {"health": "asthma"}})
    assert refused.status_code == 422 and "consent" in refused.get_json()["detail"]["fields.health"]
    unknown = api.patch(f"/contacts/{ann.public_id}", json={"fields": {"shoe_size": "42"}})
    assert unknown.status_code == 422


def test_patch_of_a_restricted_contact_is_409(api, ann):
    restrict(ann, RequestContext("test"))
    db.session.commit()
    response = api.patch(f"/contacts/{ann.public_id}", json={"name": "Someone"})
    assert response.status_code == 409
    body = response.get_json()
    assert "restricted" in body["error"] and body["detail"] == {"status": "restricted"}
    db.session.expire_all()
    assert contact_by_email("ann@example.com").name == "Ann"
    contact_audits = select(func.count()).select_from(AuditEvent).where(AuditEvent.target_type == "contact")
    assert db.session.execute(contact_audits).scalar_one() == 0


@pytest.mark.parametrize(
    "body, field_name",
    [
        ({"name": 5}, "name"),
        ({"attributes": ["plan"]}, "attributes"),
        ({"attributes": {"plan": {"nested": 1}}}, "attributes"),
        ({"attributes": {"bad key!": 1}}, "attributes"),
        ({"attributes": {"plan": "x" * 501}}, "attributes"),
        ({"fields": {"company": 5}}, "fields.company"),
        ({"name": "A" * 300}, "name"),
        ({"email": "new@example.com"}, "email"),
    ],
)
def test_patch_bad_input_is_422(api, ann, body, field_name):
    response = api.patch(f"/contacts/{ann.public_id}", json=body)
    assert response.status_code == 422, response.text
    assert field_name in response.get_json()["detail"]


def test_patch_needs_something_and_an_existing_contact(api, ann):
    assert api.patch(f"/contacts/{ann.public_id}", json={}).status_code == 422
    assert api.patch("/contacts/nobody", json={"name": "X"}).status_code == 404
    assert (
        api.patch(f"/contacts/{ann.public_id}", data="{", content_type="application/json").status_code == 400
    )


def test_consent_history_pages_by_cursor(api, ann):
    api.patch(f"/contacts/{ann.public_id}", json={"name": "Ann Smith"})  # not a consent change: no event
    api.delete(f"/contacts/{ann.public_id}/subscriptions/{ann.subscriptions[0].mailing_list.public_id}")
    everything = api.get(f"/contacts/{ann.public_id}/consent").get_json()
    assert everything["next_cursor"] is None
    assert [e["action"] for e in everything["data"]] == ["requested", "confirmed", "withdrawn"]
    page = api.get(f"/contacts/{ann.public_id}/consent?limit=1").get_json()
    collected = []
    while True:
        collected += page["data"]
        if page["next_cursor"] is None:
            break
        page = api.get(f"/contacts/{ann.public_id}/consent?limit=1&after={page['next_cursor']}").get_json()
    assert [e["id"] for e in collected] == [e["id"] for e in everything["data"]]
    requested = everything["data"][0]
    assert requested["notice"]["content"]["intro"].startswith("Yes, send me")
    assert requested["source"].startswith("api:") and requested["ip"] == "203.0.113.7"


def test_consent_history_bad_paging_is_422(api, ann):
    for query in ("limit=0", "limit=201", "limit=ten", "after=unknown"):
        response = api.get(f"/contacts/{ann.public_id}/consent?{query}")
        assert response.status_code == 422, query
    assert api.get("/contacts/nobody/consent").status_code == 404


def test_unsubscribe_writes_one_withdrawn_event(api, ann, demo_form):
    list_id = demo_form.lists[0].public_id
    withdrawn = select(func.count()).where(ConsentEvent.action == "withdrawn")
    response = api.delete(f"/contacts/{ann.public_id}/subscriptions/{list_id}")
    assert response.status_code == 200
    assert response.get_json() == {
        "contact_id": ann.public_id,
        "list_id": list_id,
        "status": "unsubscribed",
        "changed": True,
    }
    assert db.session.execute(withdrawn).scalar_one() == 1
    event = db.session.execute(select(ConsentEvent).where(ConsentEvent.action == "withdrawn")).scalar_one()
    assert event.source.startswith("api:") and event.purpose.list_id == demo_form.lists[0].id

    again = api.delete(f"/contacts/{ann.public_id}/subscriptions/{list_id}")
    assert again.status_code == 200 and again.get_json()["changed"] is False
    assert db.session.execute(withdrawn).scalar_one() == 1
    profile = api.get(f"/contacts/{ann.public_id}").get_json()
    assert (
        profile["subscriptions"][0]["status"] == "unsubscribed"
        and profile["consent"][0]["status"] == "withdrawn"
    )


def test_unsubscribe_from_unknown_things_is_404(api, ann, demo_form):
    from mailer.subscriptions.lists import create_list

    other = create_list("Offers")
    db.session.commit()
    list_id = demo_form.lists[0].public_id
    assert api.delete(f"/contacts/nobody/subscriptions/{list_id}").status_code == 404
    assert api.delete(f"/contacts/{ann.public_id}/subscriptions/nolist").status_code == 404
    not_on_it = api.delete(f"/contacts/{ann.public_id}/subscriptions/{other.public_id}")
    assert not_on_it.status_code == 404 and "no subscription" in not_on_it.get_json()["error"]
    assert db.session.execute(select(Subscription.status)).scalar_one() == "confirmed"


def test_a_restricted_contact_can_still_be_unsubscribed(api, ann, demo_form):
    restrict(ann, RequestContext("test"))
    db.session.commit()
    response = api.delete(f"/contacts/{ann.public_id}/subscriptions/{demo_form.lists[0].public_id}")
    assert (
        response.status_code == 200 and response.get_json()["changed"] is True
    )  # withdrawal is always honoured
    assert api.get(f"/contacts/{ann.public_id}").get_json()["status"] == "restricted"


def test_an_erased_contact_shows_nothing_personal_and_cannot_change(api, ann, demo_form):
    from mailer.privacy.erasure import erase_contact

    erase_contact(ann, RequestContext("test"))
    db.session.commit()
    response = api.get(f"/contacts/{ann.public_id}")
    assert response.status_code == 200
    data = response.get_json()
    assert (data["status"], data["email"], data["name"], data["fields"]) == ("erased", None, None, [])
    assert "ann@example.com" not in response.text
    history = api.get(f"/contacts/{ann.public_id}/consent")
    assert "ann@example.com" not in history.text and "203.0.113.7" not in history.text
    assert history.get_json()["data"][-1]["action"] == "erased"
    assert api.get("/contacts?email=ann@example.com").get_json()["data"] == []
    assert api.patch(f"/contacts/{ann.public_id}", json={"name": "Back"}).status_code == 409
    gone = api.delete(f"/contacts/{ann.public_id}/subscriptions/{demo_form.lists[0].public_id}")
    assert gone.status_code == 409 and gone.get_json()["detail"] == {"status": "erased"}
