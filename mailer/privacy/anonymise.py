"""Anonymisation: remove a contact's personal data everywhere while keeping aggregates and the ledger chain."""

from sqlalchemy import delete, update

from mailer.consent.models import ConsentEvent
from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from mailer.delivery.models import OutboxMessage


def anonymise_contact(contact: Contact) -> None:
    """Blank every personal field of the contact and of its ledger rows; the caller records why and commits."""
    from mailer.privacy.erasure import scrub_contact_data

    email, name, attributes = contact.email, contact.name, dict(contact.attributes or {})
    contact.email = contact.email_hash = contact.name = None
    contact.attributes = {}
    contact.status = "erased"
    # The chain stays verifiable: each row keeps its salted digest, and losing the salt makes it unlinkable.
    # One statement for any number of events: blanking these columns is the one change the ledger allows.
    db.session.execute(
        update(ConsentEvent)
        .where(ConsentEvent.contact_id == contact.id)
        .values(email=None, ip=None, user_agent=None, pii_salt=None)
        .execution_options(synchronize_session="evaluate")
    )
    if email:
        db.session.execute(delete(OutboxMessage).where(OutboxMessage.rcpt_to == email))
    # Field values, the contact's data key, request details and other modules' rows (services/privacy/erasure).
    scrub_contact_data(contact, email, name, attributes)
    db.session.flush()
