"""Campaigns (one mailing: content, audience, schedule, sending state), their layouts and links."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.core.clock import utcnow
from mailer.core.extensions import Model, db
from mailer.core.ids import new_public_id


class CampaignStatus(StrEnum):
    """Where a campaign is in its life: draft → scheduled → sending ⇄ paused → sent / cancelled."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    CANCELLED = "cancelled"


CAMPAIGN_STATUSES = tuple(CampaignStatus)
# The status of a campaign row that carries a journey's send step (mailer.journeys): its deliveries go through
# the same engine, but the campaign lifecycle never moves it and campaign lists do not show it.
JOURNEY_STEP_STATUS = "journey"

campaign_lists = Table(
    "campaign_lists",
    db.metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("list_id", ForeignKey("mailing_lists.id", ondelete="CASCADE"), primary_key=True),
)

# Segments a campaign also goes to (their members on any list they confirmed); a segment in use is kept.
campaign_segments = Table(
    "campaign_segments",
    db.metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("segment_id", ForeignKey("segments.id"), primary_key=True),
)

campaign_exclusions = Table(
    "campaign_exclusions",
    db.metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("list_id", ForeignKey("mailing_lists.id", ondelete="CASCADE"), primary_key=True),
)


class Layout(Model):
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


class Campaign(Model):
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
    body_format: Mapped[str] = mapped_column(String(10), default="markdown")  # markdown | html | visual
    body: Mapped[str] = mapped_column(Text, default="")  # visual: the HTML the block editor exported
    # The block editor's project (GrapesJS JSON) the body was exported from; empty in the other formats.
    body_project: Mapped[str] = mapped_column(Text, default="", server_default="")
    text_body: Mapped[str] = mapped_column(Text, default="")  # hand-written text part; empty: generated
    layout_id: Mapped[int | None] = mapped_column(ForeignKey("layouts.id"))
    category: Mapped[str] = mapped_column(String(20), default="marketing")
    track_opens: Mapped[bool] = mapped_column(default=False)
    track_clicks: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default=CampaignStatus.DRAFT, index=True)
    status_reason: Mapped[str] = mapped_column(Text, default="")  # why it paused, failed to start …
    scheduled_at: Mapped[datetime | None]  # UTC
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    compliance: Mapped[dict] = mapped_column(
        JSON, default=dict
    )  # stored preview: recipients and exclusions by reason
    compiled_html: Mapped[str] = mapped_column(
        Text, default=""
    )  # layout + body, CSS inlined once per campaign
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
    # The named relay it sends through (None: the default relay of SMTP_URL) and the one it fails over to.
    relay_id: Mapped[int | None] = mapped_column(ForeignKey("relays.id", ondelete="SET NULL"))
    failover_relay_id: Mapped[int | None] = mapped_column(ForeignKey("relays.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    layout = relationship("Layout")
    relay = relationship("Relay", foreign_keys=[relay_id])
    failover_relay = relationship("Relay", foreign_keys=[failover_relay_id])
    lists = relationship("MailingList", secondary=campaign_lists, order_by="MailingList.name")
    exclusion_lists = relationship("MailingList", secondary=campaign_exclusions, order_by="MailingList.name")
    segments = relationship("Segment", secondary=campaign_segments, order_by="Segment.name")
    links = relationship("Link", back_populates="campaign", order_by="Link.id", cascade="all, delete-orphan")


class Link(Model):
    """A URL that appears in a campaign; click tracking redirects only to these (no open redirect)."""

    __tablename__ = "links"
    __table_args__ = (UniqueConstraint("campaign_id", "url", name="uq_links_campaign_url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)

    campaign = relationship("Campaign", back_populates="links")


class DraftVersion(Model):
    """A draft's editor fields as they were before a save (the newest few are kept), for undo and restore."""

    __tablename__ = "draft_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)  # when these fields were replaced
    saved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    autosave: Mapped[bool] = mapped_column(default=False)  # replaced by an autosave (else by Save or restore)
    fields: Mapped[dict] = mapped_column(JSON)  # DraftFields as a dict


class CampaignTemplate(Model):
    """A campaign's content saved to start new campaigns from (the gallery lists them beside the starters)."""

    __tablename__ = "campaign_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300), default="")
    preheader: Mapped[str] = mapped_column(String(300), default="")
    body_format: Mapped[str] = mapped_column(String(10), default="markdown")
    body: Mapped[str] = mapped_column(Text, default="")
    body_project: Mapped[str] = mapped_column(Text, default="")
    text_body: Mapped[str] = mapped_column(Text, default="")
    layout_id: Mapped[int | None] = mapped_column(ForeignKey("layouts.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    layout = relationship("Layout")
