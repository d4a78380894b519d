"""The suppression list: keyed hashes of addresses we must not mail or silently re-add."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from flask_babel import gettext, lazy_gettext
from sqlalchemy import CursorResult, delete, func, select

from mailer import audit
from mailer.audit.models import AuditEvent
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.suppression import SUPPRESSION_REASONS, Suppression, SuppressionReason
from mailer.contacts.operations import email_hash, normalise_email
from mailer.core.extensions import db

PAGE_SIZE = 50
MIN_REMOVAL_REASON = 10
MAX_REMOVAL_REASON = 500
REMOVAL_ACTION = "suppression.remove"

# The words the admin shows per reason, and where such an entry comes from (in the page's language).
REASON_LABELS = {
    SuppressionReason.UNSUBSCRIBED: lazy_gettext("Unsubscribed"),
    SuppressionReason.ERASED: lazy_gettext("Erased (right to erasure)"),
    SuppressionReason.HARD_BOUNCE: lazy_gettext("Hard bounce"),
    SuppressionReason.COMPLAINT: lazy_gettext("Spam complaint"),
    SuppressionReason.MANUAL: lazy_gettext("Added by staff"),
}
REASON_SOURCES = {
    SuppressionReason.UNSUBSCRIBED: lazy_gettext("The person's unsubscribe link or preference page"),
    SuppressionReason.ERASED: lazy_gettext("An erasure request"),
    SuppressionReason.HARD_BOUNCE: lazy_gettext("A bounce report from the receiving server or provider"),
    SuppressionReason.COMPLAINT: lazy_gettext("A complaint report (feedback loop or provider)"),
    SuppressionReason.MANUAL: lazy_gettext("A staff member"),
}
# Why removing a bounced or reported address needs the box ticked, per reason.
UNCONFIRMED_REMOVAL = {
    SuppressionReason.HARD_BOUNCE: lazy_gettext(
        "This address is suppressed after a hard bounce: tick the box to confirm that mailing it again is "
        "safe."
    ),
    SuppressionReason.COMPLAINT: lazy_gettext(
        "This address is suppressed after a spam complaint: tick the box to confirm that mailing it again is "
        "safe."
    ),
}


def reason_label(reason: str) -> str:
    """A stored reason code as the admin names it in the page's language; an unknown code as it is."""
    return str(REASON_LABELS[SuppressionReason(reason)]) if reason in SUPPRESSION_REASONS else reason


class SuppressionError(ValueError):
    """A removal that cannot be done; the message is safe to show to the person who asked."""


@dataclass(frozen=True)
class SuppressionEntry:
    """One row of the list as the admin shows it: never the address, only a short fingerprint of its hash."""

    id: int
    fingerprint: str
    reason: str
    label: str
    source: str
    created_at: datetime
    contact_public_id: str | None

    @property
    def warns(self) -> bool:
        """Mailing this address again will likely bounce or be reported again: removal asks to confirm."""
        return self.reason in (SuppressionReason.HARD_BOUNCE, SuppressionReason.COMPLAINT)


def is_suppressed(address_hash: str) -> bool:
    """Whether the address with this blind-index hash is suppressed."""
    query = select(Suppression.id).where(Suppression.email_hash == address_hash)
    return db.session.execute(query).first() is not None


def suppress(address_hash: str, reason: SuppressionReason) -> None:
    """Add an address hash to the suppression list (idempotent); the caller commits."""
    if not is_suppressed(address_hash):
        db.session.add(Suppression(email_hash=address_hash, reason=reason))


def lift_suppression(address_hash: str) -> bool:
    """Remove a suppression after a fresh double opt-in; True when one was removed."""
    result = db.session.execute(delete(Suppression).where(Suppression.email_hash == address_hash))
    return bool(cast("CursorResult[Any]", result).rowcount)


def _entry(row: Suppression, contact_public_id: str | None) -> SuppressionEntry:
    reason = SuppressionReason(row.reason) if row.reason in SUPPRESSION_REASONS else None
    return SuppressionEntry(
        id=row.id,
        fingerprint=row.email_hash[:10],
        reason=row.reason,
        label=reason_label(row.reason),
        source=str(REASON_SOURCES[reason]) if reason else gettext("Unknown"),
        created_at=row.created_at,
        contact_public_id=contact_public_id,
    )


def _entries_query():
    return select(Suppression, Contact.public_id).outerjoin(
        Contact, Contact.email_hash == Suppression.email_hash
    )


def suppression_page(page: int = 1) -> tuple[list[SuppressionEntry], int]:
    """One page of the list, newest first, and the number of entries in all."""
    page = max(page, 1)
    total = db.session.execute(select(func.count()).select_from(Suppression)).scalar_one()
    rows = db.session.execute(
        _entries_query()
        .order_by(Suppression.created_at.desc(), Suppression.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return [_entry(row, public_id) for row, public_id in rows], total


def find_suppression(raw_address: str) -> SuppressionEntry | None:
    """The entry of a typed address, hashed by the rule of every stored one (AddressError if malformed)."""
    address_hash = email_hash(normalise_email(raw_address))
    row = db.session.execute(_entries_query().where(Suppression.email_hash == address_hash)).first()
    return _entry(row[0], row[1]) if row else None


def get_suppression(suppression_id: int) -> SuppressionEntry | None:
    """One entry by its id."""
    row = db.session.execute(_entries_query().where(Suppression.id == suppression_id)).first()
    return _entry(row[0], row[1]) if row else None


def remove_suppression(
    suppression_id: int, reason: str, *, confirmed: bool, actor: object, ip: str | None = None
) -> SuppressionEntry:
    """Take an address off the list on a staff member's typed reason; the removal stays in the audit log with
    what the entry was (its reason, date and hash fingerprint). The caller commits."""
    entry = get_suppression(suppression_id)
    if entry is None:
        raise LookupError(suppression_id)
    reason = " ".join((reason or "").split())
    if len(reason) < MIN_REMOVAL_REASON:
        raise SuppressionError(gettext("Say why this address may be mailed again (at least a few words)."))
    if len(reason) > MAX_REMOVAL_REASON:
        raise SuppressionError(
            gettext("The reason is too long (%(max)s characters at most).", max=MAX_REMOVAL_REASON)
        )
    if entry.warns and not confirmed:
        raise SuppressionError(str(UNCONFIRMED_REMOVAL[SuppressionReason(entry.reason)]))
    db.session.execute(delete(Suppression).where(Suppression.id == suppression_id))
    audit.record(
        REMOVAL_ACTION,
        "suppression",
        entry.fingerprint,
        {
            "suppressed_for": entry.reason,
            "suppressed_at": entry.created_at.isoformat(timespec="seconds"),
            "reason": reason,
            **({"contact": entry.contact_public_id} if entry.contact_public_id else {}),
        },
        actor=actor,
        ip=ip,
    )
    return entry


def recent_removals(limit: int = 20) -> list[AuditEvent]:
    """The newest removals from the audit log: the history of the list survives each removal."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.action == REMOVAL_ACTION)
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    return list(db.session.execute(query).scalars())
