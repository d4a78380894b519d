"""Open/click tracking events (only for consenting contacts) and anonymous per-campaign counters."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mailer.core.clock import utcnow
from mailer.core.extensions import Model

TRACKING_KINDS = ("open", "click")
# How a request's user agent was classified; the raw user agent and the IP are never stored.
USER_AGENT_CLASSES = ("browser", "image-proxy", "apple-mpp", "scanner", "empty")


class TrackingEvent(Model):
    """One open or click by a contact who consented to that kind of tracking; pseudonymous (ids only)."""

    __tablename__ = "tracking_events"
    __table_args__ = (Index("ix_tracking_events_campaign_kind", "campaign_id", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    link_id: Mapped[int | None] = mapped_column(ForeignKey("links.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    machine: Mapped[bool] = mapped_column(default=False)  # likely automated (proxy prefetch, link scanner)
    machine_reason: Mapped[str] = mapped_column(String(40), default="")
    user_agent_class: Mapped[str] = mapped_column(String(20), default="browser")


class TrackingCounter(Model):
    """Anonymous per-campaign click counts with no recipient part
    (TRACKING_ANONYMOUS_COUNTS, off by default)."""

    __tablename__ = "tracking_counters"
    __table_args__ = (
        UniqueConstraint("campaign_id", "link_id", "kind", name="uq_tracking_counters_campaign_link_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    link_id: Mapped[int] = mapped_column(ForeignKey("links.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10), default="click")
    count: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
