"""What erasure and retention do to delivery: stored messages and failure texts that quote a person."""

from datetime import timedelta

from sqlalchemy import delete, func, select, update

from mailer.contacts.personal_data import ErasedContact
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery.models import Delivery, OutboxMessage


def forget_messages(erased: ErasedContact) -> None:
    """Stored messages to the person go; failure texts quoting their address or name are scrubbed."""
    if erased.email:
        db.session.execute(delete(OutboxMessage).where(OutboxMessage.rcpt_to.contains(erased.email)))
    if erased.needles:
        for delivery in db.session.execute(
            select(Delivery).where(Delivery.contact_id == erased.contact.id, Delivery.reason != "")
        ).scalars():
            delivery.reason = erased.scrub(delivery.reason)


def clear_failure_texts(days: int, dry_run: bool = False) -> int:
    """Clear failure texts (they often quote the address) older than `days`; the delivery status stays."""
    old = (
        Delivery.status.in_(("bounced", "failed")),
        Delivery.reason != "",
        func.coalesce(Delivery.finished_at, Delivery.queued_at) < utcnow() - timedelta(days=days),
    )
    count = db.session.execute(select(func.count()).select_from(Delivery).where(*old)).scalar_one()
    if not dry_run and count:
        db.session.execute(update(Delivery).where(*old).values(reason="", smtp_code=None))
        db.session.commit()
    return count
