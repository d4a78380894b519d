"""System emails as staff edited them per language: a form's confirmation email, a list's re-confirmation
email (absent: the built-in wording)."""

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mailer.core.clock import utcnow
from mailer.core.extensions import Model


class SystemEmailKind(enum.StrEnum):
    """Which system email: a form's double opt-in confirmation, or a list's re-confirmation request."""

    CONFIRMATION = "confirmation"
    RECONFIRMATION = "reconfirmation"


class SystemEmail(Model):
    """One edited system email of a form (confirmation) or a list (re-confirmation) in one language: subject,
    body (plain text with merge tags) and button; the required parts (link, right to object, sender identity)
    are added by our template."""

    __tablename__ = "system_emails"
    __table_args__ = (
        UniqueConstraint("form_id", "kind", "language", name="uq_system_emails_form_kind_language"),
        UniqueConstraint("list_id", "kind", "language", name="uq_system_emails_list_kind_language"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Exactly one of the two owners is set: a form's confirmation email, or a list's re-confirmation email.
    form_id: Mapped[int | None] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    list_id: Mapped[int | None] = mapped_column(
        ForeignKey("mailing_lists.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(30))
    language: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    button_label: Mapped[str] = mapped_column(String(60))
    # SHA-256 of subject, body and button as stored: the version the ledger names for each email sent.
    content_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
