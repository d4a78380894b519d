"""Transactional templates and the messages sent from them (the sent log, with each idempotency key)."""

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.core.clock import utcnow
from mailer.core.extensions import Model
from mailer.core.ids import new_public_id


class BodyFormat(enum.StrEnum):
    """How a template's body is written."""

    MARKDOWN = "markdown"
    HTML = "html"


class TxStatus(enum.StrEnum):
    """queued → sending → sent / failed / refused (send-time check) / uncertain (its worker died mid-send)."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    REFUSED = "refused"
    UNCERTAIN = "uncertain"


FINAL_TX_STATUSES = (TxStatus.SENT, TxStatus.FAILED, TxStatus.REFUSED, TxStatus.UNCERTAIN)


class TxTemplate(Model):
    """A stored transactional message: the API names it by `key`; archived ones can't be sent."""

    __tablename__ = "tx_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # e.g. "password-reset", what the API sends
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    body_format: Mapped[str] = mapped_column(String(10), default=BodyFormat.MARKDOWN)
    reply_to: Mapped[str] = mapped_column(String(320), default="")
    relay_id: Mapped[int | None] = mapped_column(ForeignKey("relays.id", ondelete="SET NULL"))
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    relay = relationship("Relay")


class TxMessage(Model):
    """One transactional message to one recipient; its address and merge data are personal data (kept until
    the message is final, then the merge data goes; the address goes with retention or erasure)."""

    __tablename__ = "tx_messages"
    __table_args__ = (
        # One message per API key and Idempotency-Key: a concurrent repeat fails this insert, reads the first.
        UniqueConstraint("idempotency_scope", "idempotency_key", name="uq_tx_messages_idempotency"),
        Index("ix_tx_messages_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    template_id: Mapped[int] = mapped_column(ForeignKey("tx_templates.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), default="")  # cleared by erasure and retention
    email_hash: Mapped[str] = mapped_column(String(64), default="", index=True)  # finds it at erasure
    name: Mapped[str] = mapped_column(String(200), default="")
    data: Mapped[dict | None] = mapped_column(JSON)  # merge data; dropped once the message is final
    status: Mapped[str] = mapped_column(String(20), default=TxStatus.QUEUED, index=True)
    reason: Mapped[str] = mapped_column(String(300), default="")
    message_id: Mapped[str] = mapped_column(String(250), default="")  # the RFC 5322 Message-ID once sent
    smtp_code: Mapped[int | None]
    attempts: Mapped[int] = mapped_column(default=0)
    test: Mapped[bool] = mapped_column(default=False)  # a staff member's test send from the template page
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    idempotency_scope: Mapped[str | None] = mapped_column(String(40))  # whose keys: "api-key:<id>"
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    template = relationship("TxTemplate")
    contact = relationship("Contact")
