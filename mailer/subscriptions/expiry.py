"""Storage limitation (Art. 5(1)(e)): unconfirmed sign-ups expire and are purged."""

from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from mailer.consent.ledger import RequestContext, record_consent
from mailer.consent.models import ConsentState, Purpose
from mailer.contacts.fields import drop_values_under
from mailer.contacts.models.contact import Contact
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.subscriptions import hooks
from mailer.subscriptions.models.lists import Subscription, SubscriptionStatus

SYSTEM = RequestContext("system:retention")


def expired_signups(days: int | None = None) -> list[Contact]:
    """Contacts holding a pending sign-up older than the retention period."""
    days = current_app.config["UNCONFIRMED_RETENTION_DAYS"] if days is None else days
    cutoff = utcnow() - timedelta(days=days)
    stale_subs = select(Subscription.contact_id).where(
        Subscription.status == SubscriptionStatus.PENDING, Subscription.requested_at < cutoff
    )
    stale_consents = select(ConsentState.contact_id).where(
        ConsentState.status == "pending", ConsentState.updated_at < cutoff
    )
    query = select(Contact).where(Contact.id.in_(stale_subs.union(stale_consents))).order_by(Contact.id)
    return list(db.session.execute(query).scalars())


def purge_unconfirmed(days: int | None = None, dry_run: bool = False) -> dict[str, int]:
    """Expire stale pending sign-ups; contacts left with nothing confirmed are anonymised. Returns counts."""
    days = current_app.config["UNCONFIRMED_RETENTION_DAYS"] if days is None else days
    cutoff = utcnow() - timedelta(days=days)
    report = {"contacts": 0, "subscriptions": 0, "anonymised": 0}
    for contact in expired_signups(days):
        report["contacts"] += 1
        subs = [
            s
            for s in contact.subscriptions
            if s.status == SubscriptionStatus.PENDING and s.requested_at < cutoff
        ]
        report["subscriptions"] += len(subs)
        keeps_something = any(s.status == SubscriptionStatus.CONFIRMED for s in contact.subscriptions)
        report["anonymised"] += 0 if keeps_something else 1
        if dry_run:
            continue
        stale = (
            db.session.execute(
                select(Purpose)
                .join(ConsentState, ConsentState.purpose_id == Purpose.id)
                .where(
                    ConsentState.contact_id == contact.id,
                    ConsentState.status == "pending",
                    ConsentState.updated_at < cutoff,
                )
            )
            .scalars()
            .all()
        )
        for purpose in stale:
            record_consent(contact, purpose, "expired", SYSTEM, details={"after_days": days})
            drop_values_under(contact, purpose)  # a sensitive answer never confirmed goes with its consent
        for sub in subs:
            db.session.delete(sub)
        if not keeps_something:
            record_consent(contact, None, "erased", SYSTEM, details={"reason": "unconfirmed sign-up expired"})
            hooks.signup_abandoned(contact)
        db.session.commit()
    return report
