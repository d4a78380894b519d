"""Tags staff put on contacts (e.g. "vip", "met at the fair"), to find and target them."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.core.clock import utcnow
from mailer.core.extensions import Model


class Tag(Model):
    """One tag; `key` is its name folded to lower case, so "VIP" and "vip" are the same tag."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    key: Mapped[str] = mapped_column(String(60), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContactTag(Model):
    """A contact carries a tag."""

    __tablename__ = "contact_tags"
    __table_args__ = (Index("ix_contact_tags_tag_contact", "tag_id", "contact_id"),)

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tag = relationship("Tag")
