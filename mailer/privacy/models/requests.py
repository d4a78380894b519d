"""Data-subject requests (Art. 12-22): the register with its one-month clock, and re-permission emails."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.core.clock import utcnow
from mailer.core.extensions import Model
from mailer.core.ids import new_public_id


class RequestType(StrEnum):
    """The right a person exercises (Art. 15-21)."""

    ACCESS = "access"
    PORTABILITY = "portability"
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    OBJECTION = "objection"


class RequestStatus(StrEnum):
    """Awaiting verification: the signed link was sent to the address on file; open:
    verified, being handled."""

    AWAITING_VERIFICATION = "awaiting_verification"
    OPEN = "open"
    COMPLETED = "completed"
    REFUSED = "refused"


REQUEST_TYPES = tuple(RequestType)
REQUEST_CHANNELS = ("preference-centre", "email", "phone", "letter", "cli", "admin", "api")
REQUEST_STATUSES = tuple(RequestStatus)
OPEN_STATUSES = (RequestStatus.AWAITING_VERIFICATION, RequestStatus.OPEN)


class PrivacyRequest(Model):
    """One request from a person about their data, and everything done to answer it."""

    __tablename__ = "privacy_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    type: Mapped[str] = mapped_column(String(20), index=True)
    # The contact row survives erasure as an anonymous shell; the keyed hash proves whose request it was.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    subject_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column(index=True)
    extended_until: Mapped[datetime | None]
    extension_reason: Mapped[str] = mapped_column(Text, default="")
    person_told_at: Mapped[datetime | None]  # when the person was told of the extension (Art. 12(3))
    verification_sent_at: Mapped[datetime | None]
    identity_verified_at: Mapped[datetime | None]
    verification_method: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[str] = mapped_column(
        String(30), default=RequestStatus.AWAITING_VERIFICATION.value, index=True
    )
    outcome: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(
        Text, default=""
    )  # staff note (no personal data beyond the request itself)
    # What was asked (purposes objected to, changes requested); personal values are blanked by erasure.
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    # Art. 19: recipients to tell about a correction, erasure or restriction, each with its status.
    notifications: Mapped[list] = mapped_column(JSON, default=list)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    completed_at: Mapped[datetime | None]
    last_reminded_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    contact = relationship("Contact")
    handled_by = relationship("StaffUser")

    @property
    def deadline(self) -> datetime:
        """The date the answer is due: the extension when there is one, else one month after receipt."""
        return self.extended_until or self.due_at

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class RepermissionEmail(Model):
    """An inactive contact was asked whether to keep them; erased when the grace period passes unanswered."""

    __tablename__ = "repermission_emails"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    message_id: Mapped[str] = mapped_column(String(250), default="")
