"""API keys: how integrations authenticate to the JSON API (only a hash of each secret is stored)."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.core.clock import utcnow
from mailer.core.extensions import Model

# read_only: GET endpoints only; read_write: also sign-ups, edits and unsubscribes.
API_KEY_ROLES = ("read_only", "read_write")


class ApiKey(Model):
    """One key: a public prefix staff can recognise, the SHA-256 of the whole key,
    a role, and its lifecycle."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)  # shown to staff and in ledger sources
    secret_hash: Mapped[str] = mapped_column(
        String(64)
    )  # SHA-256 hex of the full key; the key itself is never kept
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20), default="read_only")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))

    created_by = relationship("StaffUser", foreign_keys=[created_by_id])
    revoked_by = relationship("StaffUser", foreign_keys=[revoked_by_id])

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def can_write(self) -> bool:
        return self.role == "read_write"
