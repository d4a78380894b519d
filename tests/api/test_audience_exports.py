"""Exporting a list or a segment to CSV through the API: only keys created by an owner or admin, a required
reason in the audit log first, sensitive fields never in the file, restricted contacts left out, streamed."""

import csv
import io

import pytest
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.core.extensions import db
from mailer.privacy import audience_export
from mailer.segments.operations import save_segment
from mailer.staff.accounts import create_staff
from mailer.staff.api_keys import create_key
from tests.admin.test_audience_export import REASON, audience  # noqa: F401 (the admin's fixture)
from tests.api.helpers import ApiClient


def _rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def _exports() -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == "contacts.export")
    return list(db.session.execute(query).scalars())


def test_a_list_export_is_streamed_audited_and_without_sensitive_data(api, audience, monkeypatch):  # noqa: F811
    monkeypatch.setattr(audience_export, "BATCH", 1)  # several batches, streamed
    demo, _ = audience
    response = api.post(f"/lists/{demo.public_id}/export", json={"reason": REASON})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.is_streamed
    assert f"list-{demo.public_id}-" in response.headers["Content-Disposition"]
    rows = _rows(response)
    assert [r["email"] for r in rows] == ["p0@example.com", "p1@example.com"]  # no restricted, no off-list
    assert rows[0]["Postcode"] == "24937" and rows[0]["lists"] == f"{demo.name} (confirmed)"
    assert rows[1]["name"] == '\'=HYPERLINK("http://evil.example")'  # shown as text, never run
    text = response.get_data(as_text=True)
    assert "Coeliac" not in text and "Health condition" not in text
    [event] = _exports()
    assert (event.target_type, event.target_id) == ("list", demo.public_id)
    assert event.details["reason"] == REASON and event.details["via"] == "api"
    assert event.details["api_key"] == api.key.split("_")[1] and "health" not in event.details["columns"]
    assert event.actor_id is not None  # the owner who created the key


def test_a_segment_export_with_a_read_only_key_of_an_owner(read_api, audience, staff_user):  # noqa: F811
    tree = {"match": "all", "rules": [{"field": "email_domain", "op": "is", "value": "example.com"}]}
    segment = save_segment("Everyone at example.com", tree, staff_user)
    db.session.commit()
    response = read_api.post(f"/segments/{segment.public_id}/export", json={"reason": REASON})
    assert response.status_code == 200
    assert [r["email"] for r in _rows(response)] == ["p0@example.com", "p1@example.com", "p3@example.com"]
    assert [event.target_type for event in _exports()] == ["segment"]


@pytest.mark.parametrize(
    "body, message",
    [
        ({}, "this field is required"),
        ({"reason": "because"}, "Say why you need this file"),
        ({"reason": "   "}, "Say why you need this file"),
    ],
)
def test_a_reason_is_required(api, audience, body, message):  # noqa: F811
    demo, _ = audience
    response = api.post(f"/lists/{demo.public_id}/export", json=body)
    assert response.status_code == 422 and message in response.json["detail"]["reason"]
    assert response.mimetype == "application/json" and _exports() == []


@pytest.mark.parametrize("role", ["marketer", "viewer", "privacy"])
def test_only_keys_of_owners_and_admins_export(client, audience, role):  # noqa: F811
    demo, _ = audience
    creator = create_staff(f"{role}@example.com", "correct horse battery", role)
    _, secret = create_key("Exports", "read_write", creator)
    db.session.commit()
    response = ApiClient(client, secret).post(f"/lists/{demo.public_id}/export", json={"reason": REASON})
    assert response.status_code == 403 and "owner or an admin" in response.json["error"]
    assert _exports() == []


def test_an_admin_may_export_until_deactivated_and_unknown_audiences_are_404(client, audience):  # noqa: F811
    demo, _ = audience
    admin = create_staff("admin@example.com", "correct horse battery", "admin")
    _, secret = create_key("Exports", "read_only", admin)
    db.session.commit()
    api = ApiClient(client, secret)
    assert api.post(f"/lists/{demo.public_id}/export", json={"reason": REASON}).status_code == 200
    admin.active = False
    db.session.commit()
    assert api.post(f"/lists/{demo.public_id}/export", json={"reason": REASON}).status_code == 403
    assert len(_exports()) == 1


def test_unknown_lists_and_segments_are_404(api, audience):  # noqa: F811
    assert api.post("/lists/nosuchlist/export", json={"reason": REASON}).status_code == 404
    assert api.post("/segments/nosuchsegment/export", json={"reason": REASON}).status_code == 404
    assert _exports() == []
