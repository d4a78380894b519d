"""The suppression list: keyed hashes of addresses we must not mail or silently re-add."""

from typing import Any, cast

from sqlalchemy import CursorResult, delete, select

from mailer.contacts.models.suppression import Suppression, SuppressionReason
from mailer.core.extensions import db


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
