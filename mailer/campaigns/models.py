"""Campaigns (one mailing: content, audience, schedule, sending state), their layouts and links."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, ForeignKey, SmallInteger, String, Table, Text, UniqueConstraint
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
    # "html": Jinja HTML written by hand; "visual": from the block editor (html: its export, project: design)
    html_format: Mapped[str] = mapped_column(String(10), default="html", server_default="html")
    project: Mapped[str] = mapped_column(Text, default="", server_default="")
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
    # An A/B test (mailer.campaigns.ab_testing): its settings and its 2-4 variants; none for most campaigns.
    ab_test = relationship("AbTest", back_populates="campaign", uselist=False, cascade="all, delete-orphan")
    ab_variants = relationship(
        "AbVariant", back_populates="campaign", order_by="AbVariant.position", cascade="all, delete-orphan"
    )


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


class AbCriterion(StrEnum):
    """How an A/B test's winner is chosen: by click rate among consenting recipients, or by a person."""

    CLICKS = "clicks"
    MANUAL = "manual"


class AbTest(Model):
    """A campaign's A/B test: the share of the audience that gets the variants, the wait, how the winner is
    chosen, and (once chosen) the winner, when and why. The rest of the audience then gets the winner."""

    __tablename__ = "ab_tests"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    test_percent: Mapped[int] = mapped_column(default=20)  # of the eligible audience, split evenly
    wait_minutes: Mapped[int] = mapped_column(default=240)  # from the test share's planning to the decision
    criterion: Mapped[str] = mapped_column(String(10), default=AbCriterion.CLICKS)
    seed: Mapped[int | None]  # drawn when sending starts: the same seed draws the same test share again
    sample_size: Mapped[int] = mapped_column(default=0)  # deliveries created for the test share
    last_test_batch: Mapped[int] = mapped_column(default=0)  # batches 1..this are the test share's
    sample_planned_at: Mapped[datetime | None]
    decide_at: Mapped[datetime | None]  # UTC; the scheduler decides by clicks from then on
    winner: Mapped[int | None] = mapped_column(SmallInteger)  # the winning variant's position
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    decision: Mapped[dict] = mapped_column(JSON, default=dict)  # the stats and the reason, as decided

    campaign = relationship("Campaign", back_populates="ab_test")


class AbVariant(Model):
    """One variant of an A/B test (A, B, C, D by position); an empty field takes the campaign's own value."""

    __tablename__ = "ab_variants"
    __table_args__ = (UniqueConstraint("campaign_id", "position", name="uq_ab_variants_campaign_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(SmallInteger)  # 0 = A
    label: Mapped[str] = mapped_column(String(60), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    from_name: Mapped[str] = mapped_column(String(120), default="")
    body_format: Mapped[str] = mapped_column(String(10), default="markdown")
    body: Mapped[str] = mapped_column(Text, default="")  # empty: the campaign's body (and format, text part)
    body_project: Mapped[str] = mapped_column(Text, default="")
    text_body: Mapped[str] = mapped_column(Text, default="")
    compiled_html: Mapped[str] = mapped_column(Text, default="")  # compiled and CSS-inlined at the start
    compiled_text: Mapped[str] = mapped_column(Text, default="")

    campaign = relationship("Campaign", back_populates="ab_variants")
