"""Layouts (marketer templates), campaigns, their links, one delivery per campaign × contact, DKIM keys."""
from datetime import datetime

from sqlalchemy import (JSON, BigInteger, Column, ForeignKey, Index, Integer, LargeBinary, String, Table, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.clock import utcnow
from mailer.extensions import db
from mailer.models.ids import new_public_id

CAMPAIGN_STATUSES = ("draft", "scheduled", "sending", "paused", "sent", "cancelled")
DELIVERY_STATUSES = ("queued", "sending", "sent", "skipped", "failed", "bounced", "uncertain")
OPEN_DELIVERY_STATUSES = ("queued", "sending")  # counted in Campaign.open_deliveries

campaign_lists = Table(
    "campaign_lists",
    db.metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("list_id", ForeignKey("mailing_lists.id", ondelete="CASCADE"), primary_key=True),
)

campaign_exclusions = Table(
    "campaign_exclusions",
    db.metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("list_id", ForeignKey("mailing_lists.id", ondelete="CASCADE"), primary_key=True),
)


class Layout(db.Model):
    """A marketer-written HTML layout (rendered in Jinja's sandbox) that wraps a campaign body."""

    __tablename__ = "layouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    name: Mapped[str] = mapped_column(String(120))
    html: Mapped[str] = mapped_column(Text)
    verified: Mapped[bool] = mapped_column(default=False)  # contains every required footer part
    builtin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Campaign(db.Model):
    """One mailing: content, audience, schedule and its sending state."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300), default="")
    preheader: Mapped[str] = mapped_column(String(300), default="")
    from_name: Mapped[str] = mapped_column(String(120), default="")
    from_email: Mapped[str] = mapped_column(String(320), default="")
    reply_to: Mapped[str] = mapped_column(String(320), default="")
    body_format: Mapped[str] = mapped_column(String(10), default="markdown")  # markdown | html
    body: Mapped[str] = mapped_column(Text, default="")
    text_body: Mapped[str] = mapped_column(Text, default="")  # hand-written text part; empty: generated
    layout_id: Mapped[int | None] = mapped_column(ForeignKey("layouts.id"))
    category: Mapped[str] = mapped_column(String(20), default="marketing")
    track_opens: Mapped[bool] = mapped_column(default=False)
    track_clicks: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    status_reason: Mapped[str] = mapped_column(Text, default="")  # why it paused, failed to start …
    scheduled_at: Mapped[datetime | None]  # UTC
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    compliance: Mapped[dict] = mapped_column(JSON, default=dict)  # stored preview: recipients and exclusions by reason
    compiled_html: Mapped[str] = mapped_column(Text, default="")  # layout + body, CSS inlined once per campaign
    compiled_text: Mapped[str] = mapped_column(Text, default="")
    planned_through: Mapped[int] = mapped_column(default=0)  # keyset cursor: last contact id planned
    planning_done: Mapped[bool] = mapped_column(default=False)
    planned_batches: Mapped[int] = mapped_column(default=0)  # batch numbers handed out so far
    progress_at: Mapped[datetime | None]  # last time a worker moved this campaign forward (stall detection)
    # Deliveries still queued or sending, kept exact by every statement that opens or finishes one, so "is the
    # campaign done?" reads one row instead of scanning its deliveries.
    open_deliveries: Mapped[int] = mapped_column(default=0, server_default="0")
    waiting_reason: Mapped[str] = mapped_column(Text, default="", server_default="")  # e.g. the relay is down
    waiting_until: Mapped[datetime | None]  # UTC; no batch claims deliveries before this
    relay_failures: Mapped[int] = mapped_column(default=0, server_default="0")  # in a row; sets the next wait
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    layout = relationship("Layout")
    lists = relationship("MailingList", secondary=campaign_lists, order_by="MailingList.name")
    exclusion_lists = relationship("MailingList", secondary=campaign_exclusions, order_by="MailingList.name")
    links = relationship("Link", back_populates="campaign", order_by="Link.id", cascade="all, delete-orphan")


class Link(db.Model):
    """A URL that appears in a campaign; click tracking redirects only to these (no open redirect)."""

    __tablename__ = "links"
    __table_args__ = (UniqueConstraint("campaign_id", "url", name="uq_links_campaign_url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)

    campaign = relationship("Campaign", back_populates="links")


class Delivery(db.Model):
    """One campaign to one contact: queued → sending → sent / skipped(reason) / failed / bounced / uncertain."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("campaign_id", "contact_id", name="uq_deliveries_campaign_contact"),
        Index("ix_deliveries_campaign_status", "campaign_id", "status"),
        Index("ix_deliveries_campaign_batch", "campaign_id", "batch"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    list_id: Mapped[int | None] = mapped_column(ForeignKey("mailing_lists.id"))  # the list it is sent for (unsubscribe)
    batch: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    reason: Mapped[str] = mapped_column(String(300), default="")
    message_id: Mapped[str] = mapped_column(String(250), default="", index=True)  # bounce/complaint matching
    smtp_code: Mapped[int | None]
    attempts: Mapped[int] = mapped_column(default=0)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    worker_id: Mapped[str | None] = mapped_column(String(40))  # the SendWorker holding it while "sending"
    handed_at: Mapped[datetime | None]  # handed to the SMTP pipeline: if its worker dies now, it is uncertain
    not_before_at: Mapped[datetime | None]  # UTC; a temporary failure waits until then (backoff)
    finished_at: Mapped[datetime | None]

    campaign = relationship("Campaign")
    contact = relationship("Contact")


class SendWorker(db.Model):
    """A worker process that sends campaign mail, alive while its heartbeat is fresh (recovery reads it)."""

    __tablename__ = "send_workers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class DkimKey(db.Model):
    """A private key that signs mail of one domain; its public half is published at <selector>._domainkey.<domain>.

    The private key is stored encrypted (mailer.services.dkim_keys); `private_key_pem` reads and writes the PEM.
    """

    __tablename__ = "dkim_keys"
    __table_args__ = (UniqueConstraint("domain", "selector", name="uq_dkim_keys_domain_selector"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(253))
    selector: Mapped[str] = mapped_column(String(63))
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)  # MultiFernet token of the PEM
    active: Mapped[bool] = mapped_column(default=True)  # the newest active key of a domain signs
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def private_key_pem(self) -> str:
        from mailer.services.dkim_keys import open_pem

        return open_pem(self.private_key_encrypted)

    @private_key_pem.setter
    def private_key_pem(self, pem: str) -> None:
        from mailer.services.dkim_keys import seal_pem

        self.private_key_encrypted = seal_pem(pem)
