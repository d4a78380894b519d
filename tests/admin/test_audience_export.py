"""Exporting a list or a segment to CSV: owners and admins only, a reason in the audit log first, sensitive
fields never in the file, restricted and erased contacts left out, formula-like cells made harmless."""

import csv
import io

import pytest
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.contacts.models.contact import Contact
from mailer.contacts.operations import email_hash
from mailer.core.extensions import db
from mailer.privacy import audience_export
from mailer.segments.operations import save_segment
from mailer.subscriptions.models.lists import MailingList, Subscription
from tests.support.http import csrf_token, staff_client
from tests.support.privacy import define_fields, fill_fields

REASON = "Guest list for the venue, as agreed in the contract."


@pytest.fixture
def audience(demo_form, staff_user):
    demo = db.session.execute(select(MailingList)).scalar_one()
    fields = define_fields()
    people = {}
    for n, name in enumerate(["Ann", '=HYPERLINK("http://evil.example")', "Restricted Rita", "Off list"]):
        address = f"p{n}@example.com"
        contact = Contact(email=address, email_hash=email_hash(address), name=name, attributes={})
        db.session.add(contact)
        db.session.flush()
        if n < 3:
            db.session.add(Subscription(contact_id=contact.id, list_id=demo.id, status="confirmed"))
        people[name] = contact
    people["Restricted Rita"].status = "restricted"
    db.session.commit()
    fill_fields(people["Ann"], fields, {"postcode": "24937", "health": "Coeliac disease"})
    return demo, people


def export(client, path: str, reason: str = REASON):
    page = client.get(f"/admin/{path}/export")
    assert page.status_code == 200
    return client.post(f"/admin/{path}/export", data={"csrf_token": csrf_token(page.text), "reason": reason})


def _rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_a_list_export_is_audited_safe_and_without_sensitive_data(auth, audience, monkeypatch):
    monkeypatch.setattr(audience_export, "BATCH", 1)  # several batches, streamed
    demo, _ = audience
    response = export(auth, f"lists/{demo.public_id}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert f"list-{demo.public_id}-" in response.headers["Content-Disposition"]
    rows = _rows(response)
    assert [r["email"] for r in rows] == ["p0@example.com", "p1@example.com"]  # no restricted, no off-list
    assert rows[0]["name"] == "Ann" and rows[0]["Postcode"] == "24937"
    assert rows[0]["lists"] == f"{demo.name} (confirmed)"
    assert rows[1]["name"] == '\'=HYPERLINK("http://evil.example")'  # shown as text, never run
    text = response.get_data(as_text=True)
    assert "Coeliac" not in text and "Health condition" not in text
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "contacts.export")).scalar_one()
    assert event.target_type == "list" and event.target_id == demo.public_id
    assert event.details["reason"] == REASON and "health" not in event.details["columns"]
    assert event.actor_id is not None


def test_a_segment_export(auth, audience, staff_user):
    tree = {
        "match": "all",
        "rules": [{"field": "email_domain", "is": None, "op": "is", "value": "example.com"}],
    }
    tree["rules"][0].pop("is")
    segment = save_segment("Everyone at example.com", tree, staff_user)
    db.session.commit()
    rows = _rows(export(auth, f"segments/{segment.public_id}"))
    assert [r["email"] for r in rows] == ["p0@example.com", "p1@example.com", "p3@example.com"]
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "contacts.export")).scalar_one()
    assert event.target_type == "segment" and event.target_id == segment.public_id


def test_a_reason_is_required_and_nothing_is_logged_without_it(auth, audience):
    demo, _ = audience
    refused = export(auth, f"lists/{demo.public_id}", reason="because")
    assert refused.status_code == 400 and "Say why you need this file" in refused.text
    assert (
        db.session.execute(select(AuditEvent).where(AuditEvent.action == "contacts.export")).first() is None
    )


@pytest.mark.parametrize(
    ("role", "allowed"), [("admin", True), ("marketer", False), ("privacy", False), ("viewer", False)]
)
def test_only_owners_and_admins_may_export(app, demo_form, role, allowed):
    demo = db.session.execute(select(MailingList)).scalar_one()
    client = staff_client(app, role)
    assert client.get(f"/admin/lists/{demo.public_id}/export").status_code == (200 if allowed else 403)
    assert ("Export CSV" in client.get(f"/admin/lists/{demo.public_id}").text) == allowed


def test_unknown_audiences_are_404(auth, audience):
    assert auth.get("/admin/lists/nope/export").status_code == 404
    assert auth.get("/admin/segments/nope/export").status_code == 404
