"""Feed campaigns, the items they sent (so no item goes out twice) and a record of every run."""

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.core.clock import utcnow
from mailer.core.extensions import Model
from mailer.core.ids import new_public_id


class FeedStatus(enum.StrEnum):
    """Active feeds run on their schedule; paused ones wait."""

    ACTIVE = "active"
    PAUSED = "paused"


class RunOutcome(enum.StrEnum):
    """What one run did."""

    SENT = "sent"  # new items: a campaign was created and started
    NOTHING_NEW = "nothing_new"
    ERROR = "error"  # the feed could not be fetched or read, or the campaign could not be sent


class Feed(Model):
    """A feed campaign: where the feed is, when it runs (in its time zone), the list, the layout and the
    templates its campaign is made from."""

    __tablename__ = "feeds"
    __table_args__ = (Index("ix_feeds_due", "status", "next_run_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(10), default=FeedStatus.PAUSED)
    list_id: Mapped[int] = mapped_column(ForeignKey("mailing_lists.id"))
    layout_id: Mapped[int | None] = mapped_column(ForeignKey("layouts.id"))
    frequency: Mapped[str] = mapped_column(String(10), default="daily")  # daily | weekly
    weekday: Mapped[int] = mapped_column(default=0)  # 0 = Monday (weekly)
    hour: Mapped[int] = mapped_column(default=9)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    max_items: Mapped[int] = mapped_column(default=10)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)  # HTML with a Jinja loop over `items` (sandboxed)
    track_clicks: Mapped[bool] = mapped_column(default=True)  # only ever for contacts who consented
    # The named relay its campaigns go through (None: the default relay of SMTP_URL), and their failover.
    relay_id: Mapped[int | None] = mapped_column(ForeignKey("relays.id", ondelete="SET NULL"))
    failover_relay_id: Mapped[int | None] = mapped_column(ForeignKey("relays.id", ondelete="SET NULL"))
    next_run_at: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    last_item_at: Mapped[datetime | None]  # the newest publication date among the items sent
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    mailing_list = relationship("MailingList")
    layout = relationship("Layout")
    relay = relationship("Relay", foreign_keys=[relay_id])
    failover_relay = relationship("Relay", foreign_keys=[failover_relay_id])


class FeedItemSent(Model):
    """An item (by GUID, else link) that went out in a feed's campaign: never sent again."""

    __tablename__ = "feed_items_sent"
    __table_args__ = (UniqueConstraint("feed_id", "key", name="uq_feed_items_sent_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))  # sha256 of the GUID or link
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


class FeedRun(Model):
    """One run of a feed campaign: how many items it found, how many were new, what it did."""

    __tablename__ = "feed_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(20))
    items_found: Mapped[int] = mapped_column(default=0)
    new_items: Mapped[int] = mapped_column(default=0)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    error: Mapped[str] = mapped_column(Text, default="")
    manual: Mapped[bool] = mapped_column(default=False)  # "Run now" rather than the schedule

    campaign = relationship("Campaign")
