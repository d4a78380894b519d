"""The organisation's settings: one row, edited by owners and admins on the Settings page."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailer.core.clock import utcnow
from mailer.core.extensions import Model


class OrganisationSettings(Model):
    """Name, postal address, default sender, reply-to and website; a blank value means "not set yet"."""

    __tablename__ = "organisation_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    postal_address: Mapped[str] = mapped_column(Text, default="")
    from_name: Mapped[str] = mapped_column(String(200), default="")
    from_email: Mapped[str] = mapped_column(String(320), default="")
    reply_to: Mapped[str] = mapped_column(String(320), default="")
    # The organisation's own website: public pages link back to it ("Back to <organisation>").
    website: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # Brand (mailer/organisation/brand.py): blank means the default.
    brand_colour: Mapped[str] = mapped_column(String(7), default="", server_default="")
    brand_text_colour: Mapped[str] = mapped_column(String(7), default="", server_default="")
    brand_font: Mapped[str] = mapped_column(String(20), default="", server_default="")
    brand_logo_url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    brand_footer_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
