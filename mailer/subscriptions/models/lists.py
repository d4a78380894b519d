"""Mailing lists and the subscriptions of contacts to them."""

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.core.clock import utcnow
from mailer.core.extensions import Model
from mailer.core.ids import new_public_id


class SubscriptionStatus(enum.StrEnum):
    """A contact on a list: pending until double opt-in, then confirmed, later perhaps unsubscribed."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"


SUBSCRIPTION_STATUSES = tuple(SubscriptionStatus)


class MailingList(Model):
    """A list people subscribe to; each list is also a consent purpose."""

    __tablename__ = "mailing_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[str] = mapped_column(String(10), default="public")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Archived: out of every preference centre and form, not offered to new campaigns; subscriptions kept.
    archived_at: Mapped[datetime | None]
    # Deleted: a tombstone (also archived): its subscriptions ended with a ledger event each; its name,
    # purpose and campaign history stay for the proof and the stats. Listed nowhere; its page says so.
    deleted_at: Mapped[datetime | None]

    purpose = relationship("Purpose", back_populates="mailing_list", uselist=False)
    subscriptions = relationship("Subscription", back_populates="mailing_list", cascade="all, delete-orphan")


class Subscription(Model):
    """A contact on a list: pending until double opt-in, then confirmed, later perhaps unsubscribed."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("contact_id", "list_id", name="uq_subscriptions_contact_list"),
        # a list's page, newest first, reads its 51 rows in order instead of sorting the whole list
        Index("ix_subscriptions_list_newest", "list_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # both looked up through the composite indexes above (contact_id first, list_id first)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    list_id: Mapped[int] = mapped_column(ForeignKey("mailing_lists.id"))
    status: Mapped[str] = mapped_column(String(20), default=SubscriptionStatus.PENDING, index=True)
    source: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]

    contact = relationship("Contact", back_populates="subscriptions")
    mailing_list = relationship("MailingList", back_populates="subscriptions")
