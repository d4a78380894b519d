"""Refusals at send time in the bounce log: a relay's 5xx at RCPT or DATA is a bounce like the DSN that
would have come later (REQUIREMENTS E2): the same classification (RFC 3463, 5.2.2 soft, 5.7.x policy), a log
row with source "smtp" (so it counts toward the sending domain's bounce rate and shows on the Deliverability
page) and the same suppression rule (BOUNCE_HARD_LIMIT), applied set-based with the provider events' batch
rules. Connected to the delivery engine by the app factory (delivery.hooks)."""

from sqlalchemy import select

from mailer.core.extensions import db
from mailer.deliverability import provider_batch
from mailer.deliverability.provider_events import BOUNCE, ProviderEvent
from mailer.delivery.hooks import Refusal
from mailer.delivery.models import Delivery, DeliveryStatus

SOURCE = "smtp"
REPORTER = "our relay, at send time"


def record_refusals(refusals: list[Refusal]) -> None:
    """Log and act on the refusals of one write of delivery outcomes, in its transaction (the caller
    commits). Deliveries another worker's recovery took over meanwhile (not bounced or failed by this
    write) are left out."""
    ids = [refusal.delivery_id for refusal in refusals]
    deliveries = {
        delivery.id: delivery
        for delivery in db.session.execute(
            select(Delivery).where(provider_batch.among(Delivery.id, ids))
        ).scalars()
    }
    items = []
    for refusal in refusals:
        delivery = deliveries.get(refusal.delivery_id)
        if delivery is None or delivery.status not in (DeliveryStatus.BOUNCED, DeliveryStatus.FAILED):
            continue
        diagnostic = f"{refusal.code} {refusal.text}" if refusal.code else refusal.text
        event = ProviderEvent(key="", kind=BOUNCE, diagnostic=diagnostic, reporter=REPORTER)
        items.append(provider_batch.Item(SOURCE, event, delivery))
    provider_batch.apply_batch(items)
