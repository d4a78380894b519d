"""Suppression list: keyed hashes of addresses that must not be mailed or silently re-added."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from mailer.core.clock import utcnow
from mailer.core.extensions import Model


class SuppressionReason(StrEnum):
    """Why an address must not be mailed or silently re-added."""

    UNSUBSCRIBED = "unsubscribed"
    ERASED = "erased"
    HARD_BOUNCE = "hard_bounce"
    COMPLAINT = "complaint"
    MANUAL = "manual"


SUPPRESSION_REASONS = tuple(SuppressionReason)


class Suppression(Model):
    """One suppressed address, stored only as its keyed hash."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
