"""The bounce and complaint log: one row per classified report about a message we sent (REQUIREMENTS E1-E5).

Only what the rules need is kept: the delivery and contact it concerns, the class, the status code and a short
diagnostic with every address removed. Raw report bodies are never stored. Rows live 12 months by default
(deliverability/bounces.purge_bounce_log, called by the retention job).
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mailer.core.clock import utcnow
from mailer.core.extensions import Model

# hard: the address is dead (suppress); soft: temporary or mailbox full (counted, suppressed after N);
# policy: 5.7.x, our authentication or reputation was refused (alert the operator, never blame the address);
# complaint: the recipient reported the message as spam (suppress at once, withdraw consent for the list).


class BounceKind(StrEnum):
    """The class of a report: what it says about the address (or about us)."""

    HARD = "hard"
    SOFT = "soft"
    POLICY = "policy"
    COMPLAINT = "complaint"


BOUNCE_KINDS = tuple(BounceKind)
# What the platform did about the report.
BOUNCE_ACTIONS = ("suppressed", "counted", "suppressed_after_soft", "operator_alert", "none")


class BounceEvent(Model):
    """One delivery status notification or feedback report that referenced a message we sent."""

    __tablename__ = "bounce_events"
    __table_args__ = (
        UniqueConstraint("delivery_id", "kind", name="uq_bounce_events_delivery_kind"),
        Index("ix_bounce_events_domain_kind_created", "sending_domain", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    delivery_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("deliveries.id", ondelete="SET NULL")
    )
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )
    sending_domain: Mapped[str] = mapped_column(String(253), default="")
    kind: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(10), default="dsn")  # dsn | arf | a provider (ses, …)
    status_code: Mapped[str] = mapped_column(
        String(16), default=""
    )  # e.g. 5.1.1; for complaints the feedback type
    diagnostic: Mapped[str] = mapped_column(String(500), default="")  # addresses replaced by [address]
    reporter: Mapped[str] = mapped_column(
        String(253), default=""
    )  # Reporting-MTA or the feedback loop's domain
    action_taken: Mapped[str] = mapped_column(String(30), default="none")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class MailboxMessage(Model):
    """One message the bounce-mailbox poller took from an IMAP folder: written in the same transaction as what
    the message changed, so a crash before it is moved out of the folder never acts on it twice.

    Keyed by the folder's UIDVALIDITY and the message's UID (IMAP's own identity of a message); its Message-ID
    and body also count, so a copy of the same message (or the folder renumbered by a server rebuild) is not
    read again either. Only a keyed hash of them is kept: nothing here names a person.
    """

    __tablename__ = "mailbox_messages"
    __table_args__ = (
        UniqueConstraint("mailbox", "uidvalidity", "uid", name="uq_mailbox_messages_uid"),
        Index("ix_mailbox_messages_mailbox_message_id", "mailbox", "message_id_hash"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(300))  # user@host/folder
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    message_id_hash: Mapped[str] = mapped_column(String(64), default="")  # Message-ID + body; "": none
    outcome: Mapped[str] = mapped_column(String(20))  # recorded | duplicate | ignored | unmatched | refused …
    detail: Mapped[str] = mapped_column(String(300), default="")
    moved_to: Mapped[str] = mapped_column(String(200), default="")  # the folder it goes to (once read)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    moved_at: Mapped[datetime | None]


class ProviderEventReceipt(Model):
    """One event a sending provider's webhook delivered (SES via SNS, SendGrid, Postmark, Mailgun).

    Kept so that a replayed or retried event changes nothing (unique per provider and event key) and so the
    Deliverability page can say when each provider was last heard from. The request stores the verified event
    here with outcome "pending" and its fields in payload (the worker's input, the address included for
    providers that echo no Message-ID); the worker acts on it within seconds, sets the outcome and clears the
    payload, so no address or payload is kept.
    """

    __tablename__ = "provider_event_receipts"
    __table_args__ = (
        UniqueConstraint("provider", "event_key", name="uq_provider_event_receipts_provider_key"),
        Index("ix_provider_event_receipts_provider_received", "provider", "received_at"),
        Index("ix_provider_event_receipts_outcome_id", "outcome", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))  # ses | sendgrid | postmark | mailgun
    event_key: Mapped[str] = mapped_column(String(200))  # the provider's event id (or request token)
    kind: Mapped[str] = mapped_column(String(16), default="")  # bounce | complaint | delivered | …
    # pending (waiting for the worker) | recorded | duplicate | unmatched | ignored
    outcome: Mapped[str] = mapped_column(String(16), default="")
    payload: Mapped[dict | None] = mapped_column(JSON)  # the event while pending; None once acted on
    delivery_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
