"""Deliveries (one per campaign × contact), sending workers, the local outbox, DKIM keys (from dkim_keys)."""

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.core.clock import utcnow
from mailer.core.extensions import Model
from mailer.core.ids import new_public_id
from mailer.delivery.dkim_keys import DkimKey as DkimKey  # the model lives with its sealing; listed here
from mailer.delivery.relays import Relay as Relay  # named SMTP relays, with their sealed passwords


class DeliveryStatus(enum.StrEnum):
    """Where one message is: queued → sending → sent / skipped / failed / bounced / uncertain."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
    BOUNCED = "bounced"
    UNCERTAIN = "uncertain"


DELIVERY_STATUSES = tuple(DeliveryStatus)
OPEN_DELIVERY_STATUSES = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)  # counted in open_deliveries

# Delivery.tracking: which tracking the recipient had consented to when their message was handed over.
TRACKED_OPENS, TRACKED_CLICKS = 1, 2
FINAL_DELIVERY_STATUSES = tuple(status for status in DeliveryStatus if status not in OPEN_DELIVERY_STATUSES)


class Delivery(Model):
    """One campaign to one contact: queued → sending → sent / skipped / failed / bounced / uncertain."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("campaign_id", "contact_id", name="uq_deliveries_campaign_contact"),
        Index("ix_deliveries_campaign_status", "campaign_id", "status"),
        Index("ix_deliveries_campaign_batch", "campaign_id", "batch"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    list_id: Mapped[int | None] = mapped_column(
        ForeignKey("mailing_lists.id")
    )  # the list it is sent for (unsubscribe)
    batch: Mapped[int] = mapped_column(default=0)
    variant: Mapped[int | None] = mapped_column(SmallInteger)  # an A/B tested campaign's variant (0 = A)
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.QUEUED)
    reason: Mapped[str] = mapped_column(String(300), default="")
    message_id: Mapped[str] = mapped_column(String(250), default="", index=True)  # bounce/complaint matching
    smtp_code: Mapped[int | None]
    relay: Mapped[str] = mapped_column(String(63), default="", server_default="")  # which relay accepted it
    attempts: Mapped[int] = mapped_column(default=0)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    worker_id: Mapped[str | None] = mapped_column(String(40))  # the SendWorker holding it while "sending"
    handed_at: Mapped[datetime | None]  # handed to the SMTP pipeline: if its worker dies now, it is uncertain
    # The recipient's tracking consent when the message was handed over (TRACKING_OPEN | TRACKING_CLICK bits);
    # None before that, and for messages handed before migration 0064 (their stats count from the ledger).
    tracking: Mapped[int | None] = mapped_column(SmallInteger)
    not_before_at: Mapped[datetime | None]  # UTC; a temporary failure waits until then (backoff)
    finished_at: Mapped[datetime | None]

    campaign = relationship("Campaign")
    contact = relationship("Contact")


class SendWorker(Model):
    """A worker process that sends campaign mail, alive while its heartbeat is fresh (recovery reads it)."""

    __tablename__ = "send_workers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Category(enum.StrEnum):
    """What the outbox and mailbox providers see (REQUIREMENTS B5): one-click headers go on marketing only."""

    TRANSACTIONAL = "transactional"
    INTERNAL = "internal"
    MARKETING = "marketing"


class OutboxMessage(Model):
    """A message as it would have left over SMTP: envelope and raw bytes."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    mail_from: Mapped[str] = mapped_column(String(320))
    rcpt_to: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(998), default="")
    message_id: Mapped[str] = mapped_column(String(250), default="")
    category: Mapped[str] = mapped_column(String(20), default=Category.TRANSACTIONAL)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
