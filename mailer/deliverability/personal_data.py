"""What erasure does to the bounce and complaint log: diagnostics lose the person's name and address."""

from sqlalchemy import select

from mailer.contacts.personal_data import ErasedContact
from mailer.core.extensions import db
from mailer.deliverability.models import BounceEvent


def scrub_diagnostics(erased: ErasedContact) -> None:
    """Diagnostics keep their codes and words; the address (already masked) and the name are replaced."""
    if not erased.needles:
        return
    for row in db.session.execute(
        select(BounceEvent).where(BounceEvent.contact_id == erased.contact.id, BounceEvent.diagnostic != "")
    ).scalars():
        row.diagnostic = erased.scrub(row.diagnostic)
