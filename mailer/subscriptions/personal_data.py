"""What erasure does to subscriptions: every list of the person ends (the rows stay for the list's counts)."""

from sqlalchemy import delete, select

from mailer.contacts.personal_data import ErasedContact
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.subscriptions.models.lists import Subscription
from mailer.subscriptions.models.reconfirmations import ListReconfirmation


def end_subscriptions(erased: ErasedContact) -> None:
    """Mark every subscription of the contact unsubscribed, now; forget any re-permission request (nothing
    waits for an erased person's answer)."""
    now = utcnow()
    for sub in db.session.execute(
        select(Subscription).where(Subscription.contact_id == erased.contact.id)
    ).scalars():
        if sub.status != "unsubscribed":
            sub.status, sub.unsubscribed_at = "unsubscribed", now
    db.session.execute(delete(ListReconfirmation).where(ListReconfirmation.contact_id == erased.contact.id))
