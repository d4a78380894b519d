"""Anonymisation: remove a contact's personal data everywhere while keeping aggregates and the ledger chain."""
from sqlalchemy import delete, select

from mailer.extensions import db
from mailer.models import ConsentEvent, Contact, OutboxMessage


def anonymise_contact(contact: Contact) -> None:
    """Blank every personal field of the contact and of its ledger rows; the caller records why and commits."""
    from mailer.services.privacy.erasure import scrub_contact_data

    email, name, attributes = contact.email, contact.name, dict(contact.attributes or {})
    contact.email = contact.email_hash = contact.name = None
    contact.attributes = {}
    contact.status = "erased"
    # The chain stays verifiable: each row keeps its salted digest, and losing the salt makes it unlinkable.
    for ev in db.session.execute(select(ConsentEvent).where(ConsentEvent.contact_id == contact.id)).scalars():
        ev.email = ev.ip = ev.user_agent = ev.pii_salt = None
    if email:
        db.session.execute(delete(OutboxMessage).where(OutboxMessage.rcpt_to == email))
    # Field values, the contact's data key, request details and other modules' rows (services/privacy/erasure).
    scrub_contact_data(contact, email, name, attributes)
    db.session.flush()
