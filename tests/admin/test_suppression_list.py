"""The suppression list on the Deliverability page: search by a full address through the keyed hash, paging,
removal only with a typed reason (a hard bounce asks for confirmation), audited, owners and admins only."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.contacts import suppression
from mailer.contacts.models.suppression import Suppression, SuppressionReason
from mailer.contacts.operations import email_hash
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from tests.support.http import csrf_token, staff_client

REASON = "The person wrote to support and asked to get the newsletter again."


def _suppress(address: str, reason: SuppressionReason) -> Suppression:
    suppression.suppress(email_hash(address), reason)
    db.session.commit()
    return db.session.execute(
        select(Suppression).where(Suppression.email_hash == email_hash(address))
    ).scalar_one()


def _remove(client, entry_id: int, reason: str = REASON, **extra):
    token = csrf_token(client.get("/admin/deliverability/suppressions").text)
    return client.post(
        f"/admin/deliverability/suppressions/{entry_id}/remove",
        data={"csrf_token": token, "reason": reason, **extra},
    )


def test_search_finds_an_address_by_its_hash_and_never_shows_it(auth):
    entry = _suppress("ann@example.net", SuppressionReason.UNSUBSCRIBED)
    _suppress("bob@example.net", SuppressionReason.HARD_BOUNCE)

    page = auth.get("/admin/deliverability/suppressions")
    assert page.status_code == 200
    assert "All entries (2)" in page.text and "Hard bounce" in page.text and "Unsubscribed" in page.text
    assert "ann@example.net" not in page.text and "bob@example.net" not in page.text
    assert entry.email_hash[:10] in page.text

    found = auth.get("/admin/deliverability/suppressions", query_string={"q": "  Ann@Example.NET "})
    assert found.status_code == 200
    assert "This address is on the suppression list." in found.text
    assert "The person&#39;s unsubscribe link or preference page" in found.text

    missing = auth.get("/admin/deliverability/suppressions", query_string={"q": "cem@example.net"})
    assert "This address is not on the suppression list." in missing.text


def test_a_malformed_address_or_page_is_a_clear_400(auth):
    bad = auth.get("/admin/deliverability/suppressions", query_string={"q": "not an address"})
    assert bad.status_code == 400
    assert "doesn&#39;t look like an email address" in bad.text
    assert auth.get("/admin/deliverability/suppressions?page=0").status_code == 400
    assert auth.get("/admin/deliverability/suppressions?page=x").status_code == 400


def test_the_list_is_paged_newest_first(auth):
    start = utcnow() - timedelta(days=1)
    for number in range(suppression.PAGE_SIZE + 3):
        db.session.add(
            Suppression(
                email_hash=email_hash(f"p{number}@example.net"),
                reason=SuppressionReason.COMPLAINT,
                created_at=start + timedelta(minutes=number),
            )
        )
    db.session.commit()
    first = auth.get("/admin/deliverability/suppressions")
    assert (
        "Page 1 of 2" in first.text
        and email_hash(f"p{suppression.PAGE_SIZE + 2}@example.net")[:10] in first.text
    )
    second = auth.get("/admin/deliverability/suppressions?page=2")
    assert second.status_code == 200 and "Page 2 of 2" in second.text
    assert email_hash("p0@example.net")[:10] in second.text
    assert email_hash("p0@example.net")[:10] not in first.text


def test_removal_needs_a_reason_and_is_audited(auth, staff_user):
    entry = _suppress("ann@example.net", SuppressionReason.UNSUBSCRIBED)

    refused = _remove(auth, entry.id, reason="ok")
    assert refused.status_code == 400 and "Say why this address may be mailed again" in refused.text
    assert suppression.is_suppressed(email_hash("ann@example.net"))

    done = _remove(auth, entry.id)
    assert done.status_code == 302
    assert not suppression.is_suppressed(email_hash("ann@example.net"))
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "suppression.remove")
    ).scalar_one()
    assert event.actor_id == staff_user.id and event.target_id == entry.email_hash[:10]
    assert event.details["reason"] == REASON and event.details["suppressed_for"] == "unsubscribed"
    assert "ann@example.net" not in str(event.details)

    page = auth.get("/admin/deliverability/suppressions")
    assert "removed; the removal and your reason are in the audit log" in page.text
    assert "No address is suppressed." in page.text
    assert "Recent removals" in page.text and REASON in page.text

    assert _remove(auth, entry.id).status_code == 404


def test_a_hard_bounce_removal_warns_and_needs_confirmation(auth):
    entry = _suppress("bob@example.net", SuppressionReason.HARD_BOUNCE)
    page = auth.get("/admin/deliverability/suppressions")
    assert "This address was suppressed after a hard bounce." in page.text

    refused = _remove(auth, entry.id)
    assert refused.status_code == 400 and "tick the box to confirm" in refused.text
    assert suppression.is_suppressed(email_hash("bob@example.net"))

    assert _remove(auth, entry.id, confirm="yes").status_code == 302
    assert not suppression.is_suppressed(email_hash("bob@example.net"))


def test_removal_without_csrf_is_refused(auth):
    entry = _suppress("ann@example.net", SuppressionReason.MANUAL)
    answer = auth.post(f"/admin/deliverability/suppressions/{entry.id}/remove", data={"reason": REASON})
    assert answer.status_code == 400
    assert suppression.is_suppressed(email_hash("ann@example.net"))


@pytest.mark.parametrize(
    ("role", "allowed"), [("admin", True), ("marketer", False), ("privacy", False), ("viewer", False)]
)
def test_only_owners_and_admins_see_and_change_the_list(app, role, allowed):
    with app.app_context():
        entry_id = _suppress("ann@example.net", SuppressionReason.MANUAL).id
    client = staff_client(app, role)
    assert client.get("/admin/deliverability/suppressions").status_code == (200 if allowed else 403)
    assert ("Search the suppression list" in client.get("/admin/deliverability").text) == allowed
    if not allowed:
        token = csrf_token(client.get("/admin/deliverability").text)
        answer = client.post(
            f"/admin/deliverability/suppressions/{entry_id}/remove",
            data={"csrf_token": token, "reason": REASON},
        )
        assert answer.status_code == 403
