"""Campaigns with deliveries written directly in every state, for the report pages and the API."""

from datetime import timedelta

from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery.models import Delivery
from tests.support.campaigns import newsletter

UNCERTAIN = "uncertain: the worker stopped during the SMTP transaction"
RETRY = "will retry at {}: 451 4.3.0 Mailbox temporarily unavailable"
# (status, reason, how many): what a campaign half-way through a troubled send looks like
SEEDED = [
    ("queued", "", 3),
    ("queued", RETRY.format("14:05 UTC"), 2),
    ("queued", RETRY.format("14:07 UTC"), 1),
    ("sending", "", 2),
    ("sent", "", 5),
    ("skipped", "unsubscribed before sending", 2),
    ("skipped", "on the suppression list", 1),
    ("failed", "550 5.1.1 <person20@example.net>: Recipient address rejected: User unknown", 1),
    ("failed", "550 5.1.1 <person21@example.net>: Recipient address rejected: User unknown", 1),
    ("failed", "gave up after 5 attempts: 421 4.7.0 Try again later", 1),
    ("bounced", "5.2.2 mailbox full", 1),
    ("uncertain", UNCERTAIN, 4),
]


def seed(n_extra: int = 0):
    """A sending campaign with deliveries written directly in every state (and n_extra more uncertain)."""
    total = sum(n for _, _, n in SEEDED) + n_extra
    campaign, contacts = newsletter(total)
    people = iter(contacts)
    now = utcnow()
    rows = [(status, reason) for status, reason, n in SEEDED for _ in range(n)]
    rows += [("uncertain", UNCERTAIN)] * n_extra
    for status, reason in rows:
        final = status in ("sent", "skipped", "failed", "bounced", "uncertain")
        db.session.add(
            Delivery(
                campaign_id=campaign.id,
                contact_id=next(people).id,
                status=status,
                reason=reason,
                attempts=1 if status != "queued" else 0,
                claimed_at=now - timedelta(minutes=2) if status != "queued" else None,
                finished_at=now - timedelta(minutes=1) if final else None,
            )
        )
    campaign.status, campaign.started_at, campaign.planning_done = "sending", now - timedelta(minutes=5), True
    db.session.commit()
    return campaign, contacts
