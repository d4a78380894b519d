"""Staff manage contacts by hand: add one on a stated consent basis or by double opt-in, and edit the name and
ordinary fields (audited, without a privacy request)."""

import pytest
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.consent.models import ConsentEvent
from mailer.contacts import fields as field_service
from mailer.contacts.models.contact import Contact
from mailer.contacts.operations import email_hash
from mailer.contacts.suppression import suppress
from mailer.core.extensions import db
from mailer.delivery.models import OutboxMessage
from mailer.privacy.models.requests import PrivacyRequest
from mailer.subscriptions.manual import NewContact, add_contact
from mailer.subscriptions.models.lists import MailingList
from mailer.subscriptions.operations import Basis
from tests.support.http import csrf_token, staff_client
from tests.support.privacy import define_fields

STATEMENT = "Signed the paper form at the Berlin shop on 3 May; kept in the office file."


@pytest.fixture
def demo_list(demo_form):
    return db.session.execute(select(MailingList)).scalar_one()


def add(client, demo_list, **data):
    page = client.get("/admin/contacts/new")
    assert page.status_code == 200
    form = {
        "csrf_token": csrf_token(page.text),
        "email": "ann@example.com",
        "name": "Ann Example",
        "lists": [demo_list.public_id],
        "basis": "has_consent",
        "statement": STATEMENT,
        **data,
    }
    return client.post("/admin/contacts/new", data=form)


def _contact(address: str) -> Contact:
    return db.session.execute(select(Contact).where(Contact.email_hash == email_hash(address))).scalar_one()


def test_add_with_a_stated_basis_subscribes_at_once_with_the_statement_in_the_ledger(auth, demo_list):
    define_fields()
    response = add(auth, demo_list, email="Ann@Example.com", field_postcode="24937")
    assert response.status_code == 302
    ann = _contact("ann@example.com")
    assert response.location.endswith(f"/admin/contacts/{ann.public_id}")
    page = auth.get(response.location)
    assert f"Contact added to {demo_list.name}." in page.text
    assert ann.name == "Ann Example" and ann.source == "admin"
    assert [s.status for s in ann.subscriptions] == ["confirmed"]
    [event] = db.session.execute(select(ConsentEvent).where(ConsentEvent.contact_id == ann.id)).scalars()
    assert event.action == "granted" and event.source == "admin"
    assert event.details["statement"] == STATEMENT
    assert field_service.read_value(ann, field_service.field_by_key("postcode")) == "24937"
    audit = db.session.execute(select(AuditEvent).where(AuditEvent.action == "contact.add")).scalar_one()
    assert audit.target_id == ann.public_id and audit.details["basis"] == "has_consent"
    assert audit.details["fields_set"] == ["postcode"]
    assert "ann@example.com" not in str(audit.details) and "24937" not in str(audit.details)


def test_add_by_double_opt_in_sends_the_confirmation_and_waits(auth, demo_list, worker):
    response = add(auth, demo_list, basis="double_opt_in", statement="")
    assert response.status_code == 302
    assert "a confirmation email was sent" in auth.get(response.location).text
    worker.drain()
    ann = _contact("ann@example.com")
    assert [s.status for s in ann.subscriptions] == ["pending"]
    events = db.session.execute(select(ConsentEvent).where(ConsentEvent.contact_id == ann.id)).scalars()
    assert "requested" in [event.action for event in events] and ann.subscriptions[0].source == "admin"
    assert [m.rcpt_to for m in db.session.execute(select(OutboxMessage)).scalars()] == ["ann@example.com"]


def test_a_duplicate_links_to_the_existing_contact(auth, demo_list):
    assert add(auth, demo_list).status_code == 302
    again = add(auth, demo_list, email="ANN@example.com", name="Someone else")
    ann = _contact("ann@example.com")
    assert again.status_code == 400
    assert "A contact with this address already exists." in again.text
    assert f'href="/admin/contacts/{ann.public_id}">Open the existing contact</a>' in again.text
    assert ann.name == "Ann Example"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "not an address"}, "doesn&#39;t look like an email address"),
        ({"statement": "trust me"}, "Say where and how the person consented"),
        ({"lists": []}, "Choose at least one list"),
        ({"name": "Ann\x1b[31m"}, "type it again"),
        ({"field_age": "many"}, "must be a number"),
    ],
)
def test_bad_input_is_refused_with_a_message(auth, demo_list, data, message):
    field_service.define_field("age", "Age", "ordinary", value_type="number")
    db.session.commit()
    response = add(auth, demo_list, **data)
    assert response.status_code == 400 and message in response.text
    assert db.session.execute(select(Contact)).first() is None


def test_a_suppressed_address_can_only_come_back_by_itself(auth, demo_list):
    suppress(email_hash("ann@example.com"), "unsubscribed")
    db.session.commit()
    response = add(auth, demo_list)
    assert response.status_code == 400 and "on the suppression list" in response.text
    assert db.session.execute(select(Contact)).first() is None


def test_viewers_may_not_add_or_edit(app, demo_list):
    viewer = staff_client(app, "viewer")
    assert viewer.get("/admin/contacts/new").status_code == 403
    assert "Add a contact" not in viewer.get("/admin/contacts").text


def test_staff_edit_name_and_ordinary_fields_is_audited_by_field_name_only(auth, demo_list):
    fields = define_fields()
    assert add(auth, demo_list).status_code == 302
    ann = _contact("ann@example.com")
    page = auth.get(f"/admin/contacts/{ann.public_id}/edit")
    assert page.status_code == 200 and 'name="field_postcode"' in page.text
    assert 'name="field_health"' not in page.text  # sensitive fields stay with the privacy flow
    saved = auth.post(
        f"/admin/contacts/{ann.public_id}/edit",
        data={"csrf_token": csrf_token(page.text), "name": "Ann Other", "field_postcode": "10115"},
    )
    assert saved.status_code == 302
    assert "Saved: name, postcode." in auth.get(saved.location).text
    db.session.expire_all()
    assert ann.name == "Ann Other"
    assert field_service.read_value(ann, fields["postcode"]) == "10115"
    audit = db.session.execute(select(AuditEvent).where(AuditEvent.action == "contact.edit")).scalar_one()
    assert audit.target_id == ann.public_id and audit.actor_id is not None
    assert audit.details == {"fields_changed": ["name", "postcode"]}
    assert db.session.execute(select(PrivacyRequest)).first() is None  # no privacy request opened
    sneaky = auth.post(
        f"/admin/contacts/{ann.public_id}/edit",
        data={"csrf_token": csrf_token(page.text), "name": "Ann Other", "field_health": "x"},
    )
    assert sneaky.status_code == 302  # unknown form keys are ignored: only ordinary fields are read
    assert field_service.read_value(ann, fields["health"]) is None


def test_choice_fields_are_offered_as_choices(auth, demo_list):
    field_service.define_field(
        "level", "Level", "ordinary", value_type="single_choice", choices="Gold\nSilver"
    )
    field_service.define_field(
        "topics", "Topics", "ordinary", value_type="multiple_choice", choices="A\nB\nC"
    )
    db.session.commit()
    response = add(auth, demo_list, field_level="Silver", field_topics=["A", "C"])
    assert response.status_code == 302
    ann = _contact("ann@example.com")
    page = auth.get(f"/admin/contacts/{ann.public_id}/edit")
    assert '<option value="Silver" selected>' in page.text
    assert 'value="A" checked' in page.text and 'value="B">' in page.text and 'value="C" checked' in page.text
    assert field_service.read_value(ann, field_service.field_by_key("topics")) == "A; C"


def test_edit_refuses_bad_values(auth, demo_list):
    field_service.define_field("age", "Age", "ordinary", value_type="number")
    db.session.commit()
    assert add(auth, demo_list).status_code == 302
    ann = _contact("ann@example.com")
    page = auth.get(f"/admin/contacts/{ann.public_id}/edit")
    bad = auth.post(
        f"/admin/contacts/{ann.public_id}/edit",
        data={"csrf_token": csrf_token(page.text), "name": "Ann", "field_age": "old"},
    )
    assert bad.status_code == 400 and "must be a number" in bad.text


def test_only_privacy_officers_change_a_restricted_contact(app, demo_list):
    marketer = staff_client(app, "marketer")
    new = NewContact("ann@example.com", "Ann", [demo_list], Basis.PRIOR_CONSENT, STATEMENT)
    ann = add_contact(new, None).contact
    ann.status = "restricted"
    db.session.commit()
    page = marketer.get(f"/admin/contacts/{ann.public_id}/edit")
    assert page.status_code == 200
    refused = marketer.post(
        f"/admin/contacts/{ann.public_id}/edit", data={"csrf_token": csrf_token(page.text), "name": "X"}
    )
    assert refused.status_code == 403
    db.session.expire_all()
    assert ann.name == "Ann"
