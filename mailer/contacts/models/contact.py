"""Contacts: the people who receive mail."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.core.clock import utcnow
from mailer.core.extensions import Model
from mailer.core.ids import new_public_id


class ContactStatus(StrEnum):
    """Where a contact stands: mailed, kept but not processed (Art. 18), or an anonymous shell (Art. 17)."""

    ACTIVE = "active"
    RESTRICTED = "restricted"
    ERASED = "erased"


CONTACT_STATUSES = tuple(ContactStatus)


class Contact(Model):
    """A recipient; found by the keyed blind index of the address, named in URLs by public_id only."""

    __tablename__ = "contacts"
    # Search by part of an address or name: trigram GIN indexes on PostgreSQL (ILIKE '%…%' uses them; plain
    # indexes where pg_trgm cannot be created, see migration 0021), plain ones on SQLite.
    __table_args__ = (
        Index(
            "ix_contacts_email_search",
            "email",
            postgresql_using="gin",
            postgresql_ops={"email": "gin_trgm_ops"},
        ),
        Index(
            "ix_contacts_name_search", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    email: Mapped[str | None] = mapped_column(String(320))
    email_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    attributes: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=ContactStatus.ACTIVE.value, index=True)
    source: Mapped[str | None] = mapped_column(String(120))
    # The language the person reads (a code of core.i18n.LANGUAGES): set at sign-up, changed by the person in
    # the preference centre; every later page and email for them uses it. None: not known (English for mail).
    language: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_activity_at: Mapped[datetime | None]

    subscriptions = relationship("Subscription", back_populates="contact", cascade="all, delete-orphan")

    @property
    def display_name(self) -> str:
        """Name if known, else the address, else a placeholder for erased contacts."""
        return self.name or self.email or "(erased contact)"
