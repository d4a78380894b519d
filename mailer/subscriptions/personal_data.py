"""What erasure does to subscriptions: every list of the person ends (the rows stay for the list's counts)."""

from sqlalchemy import select

from mailer.contacts.personal_data import ErasedContact
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.subscriptions.models.lists import Subscription


def end_subscriptions(erased: ErasedContact) -> None:
    """Mark every subscription of the contact unsubscribed, now."""
    now = utcnow()
    for sub in db.session.execute(
        select(Subscription).where(Subscription.contact_id == erased.contact.id)
    ).scalars():
        if sub.status != "unsubscribed":
            sub.status, sub.unsubscribed_at = "unsubscribed", now
