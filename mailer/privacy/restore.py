"""Re-applying the erasure register to a database restored from a backup.

Every contact of the restored copy erased at or after the backup's date is erased again, and the suppression
of every such address hash is put back, so restoring a backup never resurrects a person who asked to be
forgotten.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from mailer.consent.ledger import RequestContext
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.models.suppression import SuppressionReason
from mailer.contacts.suppression import is_suppressed, suppress
from mailer.core.extensions import db
from mailer.privacy.erasure import erase_contact
from mailer.privacy.erasure_register import Entry, database_entries

REAPPLIED = RequestContext("erasure-reapplied")


@dataclass
class Reapplied:
    """What re-applying the register to a restored database did."""

    erased: int = 0  # contacts of the restored copy erased again
    already: int = 0  # erased in the restored copy already
    absent: int = 0  # not in the restored copy (added after the backup)
    suppressions: int = 0  # address hashes suppressed again


def reapply_erasures(since: datetime, entries: list[Entry]) -> Reapplied:
    """Erase again each contact erased at or after `since` (this database's register and `entries`); commits
    per contact, so a second run after an interruption finishes the job and changes nothing more."""
    outcome = Reapplied()
    wanted: dict[str, Entry] = {}
    for entry in [*database_entries(since), *entries]:
        if entry.erased_at >= since:
            wanted.setdefault(entry.contact_public_id, entry)
    for entry in wanted.values():
        contact = db.session.execute(
            select(Contact).where(Contact.public_id == entry.contact_public_id)
        ).scalar_one_or_none()
        if contact is None:
            outcome.absent += 1
        elif contact.status == ContactStatus.ERASED:
            outcome.already += 1
        else:
            erase_contact(
                contact, REAPPLIED, reason=f"re-applied after a restore (erased {entry.erased_at:%Y-%m-%d})"
            )
            outcome.erased += 1
        if entry.email_hash and not is_suppressed(entry.email_hash):
            suppress(entry.email_hash, SuppressionReason.ERASED)
            outcome.suppressions += 1
        db.session.commit()
    return outcome
