"""What erasure does to the consent ledger: its rows lose the person, the hash chain stays verifiable."""

from sqlalchemy import update

from mailer.consent.models import ConsentEvent
from mailer.contacts.personal_data import ErasedContact
from mailer.core.extensions import db


def forget_ledger_details(erased: ErasedContact) -> None:
    """Blank address, IP and user agent of the contact's ledger rows, and drop the salt of their digests.

    Each row keeps its salted digest, and losing the salt makes it unlinkable. One statement for any number of
    events: blanking these columns is the one change the ledger allows.
    """
    db.session.execute(
        update(ConsentEvent)
        .where(ConsentEvent.contact_id == erased.contact.id)
        .values(email=None, ip=None, user_agent=None, pii_salt=None)
        .execution_options(synchronize_session="evaluate")
    )
