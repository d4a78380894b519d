"""Outgoing webhooks: endpoints, the outbox of events, a delivery per event and endpoint, its attempts."""

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.core.clock import utcnow
from mailer.core.extensions import Model
from mailer.core.ids import new_public_id

BIG_ID = BigInteger().with_variant(Integer, "sqlite")


class DeliveryStatus(enum.StrEnum):
    """Where one event's delivery to one endpoint stands."""

    PENDING = "pending"  # due at next_attempt_at (first try or a retry)
    SENDING = "sending"  # claimed by a worker (released again if the worker dies)
    SUCCEEDED = "succeeded"  # the endpoint answered 2xx
    FAILED = "failed"  # every retry failed, or the request can never succeed


class WebhookEndpoint(Model):
    """A URL that receives signed events; personal data only when `recipient` declares it a processor."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(500), default="")
    events: Mapped[list] = mapped_column(JSON, default=list)  # event types (mailer.webhooks.catalogue)
    active: Mapped[bool] = mapped_column(default=True, index=True)
    # The privacy settings' recipient this endpoint is (role processor): then payloads carry personal data.
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("data_recipients.id", ondelete="SET NULL"))
    # Signing secrets (whsec_…), sealed with MAILER_DATA_KEYS; the previous one signs too until it expires.
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    previous_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_expires_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    failing_since: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_failure_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]  # set when the app disabled it after repeated failures
    disabled_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    recipient = relationship("DataRecipient", lazy="joined")


class WebhookCursor(Model):
    """How far a source of events has been read (the consent ledger: the last event id turned into events)."""

    __tablename__ = "webhook_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_id: Mapped[int] = mapped_column(BIG_ID)


class WebhookEvent(Model):
    """The outbox: one row per event, written in the transaction of the change that caused it (ids only)."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(40), unique=True)  # webhook-id, the same on every retry
    type: Mapped[str] = mapped_column(String(40))
    contact_id: Mapped[int | None] = mapped_column(index=True)  # no foreign key: the event outlives no one
    refs: Mapped[dict] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Model):
    """One event to one endpoint: retried with backoff until it succeeds or the schedule runs out."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    event_id: Mapped[int] = mapped_column(
        BIG_ID, ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(12), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]

    event = relationship(WebhookEvent, lazy="joined")
    endpoint = relationship(WebhookEndpoint)


class WebhookAttempt(Model):
    """One request made for a delivery: what came back and how long it took (the delivery log)."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        BIG_ID, ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None]
    response_excerpt: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[int] = mapped_column(default=0)
