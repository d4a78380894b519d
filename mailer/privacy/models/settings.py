"""Structured organisation and privacy settings: the source of the privacy notice and the Art. 30 record."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailer.core.clock import utcnow
from mailer.core.extensions import Model
from mailer.core.ids import new_public_id

RECIPIENT_ROLES = ("processor", "controller", "integration")


class PrivacySettings(Model):
    """The single row describing who the controller is and how data is handled."""

    __tablename__ = "privacy_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    controller_name: Mapped[str] = mapped_column(String(200), default="")
    controller_address: Mapped[str] = mapped_column(Text, default="")
    controller_email: Mapped[str] = mapped_column(String(320), default="")
    dpo_name: Mapped[str] = mapped_column(String(200), default="")
    dpo_email: Mapped[str] = mapped_column(String(320), default="")
    authority_name: Mapped[str] = mapped_column(String(200), default="")
    authority_url: Mapped[str] = mapped_column(String(500), default="")
    home_country: Mapped[str] = mapped_column(String(80), default="the EU/EEA")
    # Uses of data for which consent is not sought: [{"name", "description", "legal_basis"}].
    other_uses: Mapped[list] = mapped_column(JSON, default=list)
    # Category -> days (see privacy/settings.RETENTION_CATEGORIES).
    retention: Mapped[dict] = mapped_column(JSON, default=dict)
    repermission_enabled: Mapped[bool] = mapped_column(default=True)
    repermission_grace_days: Mapped[int] = mapped_column(default=30)
    reminder_days: Mapped[int] = mapped_column(default=7)
    automated_decisions: Mapped[str] = mapped_column(Text, default="")
    provision_consequences: Mapped[str] = mapped_column(Text, default="")
    security_measures: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))


class DataRecipient(Model):
    """Someone data is shared with: a processor (e.g. the SMTP relay),
    another controller or an integration."""

    __tablename__ = "data_recipients"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default="processor")
    purpose: Mapped[str] = mapped_column(Text, default="")
    data_categories: Mapped[str] = mapped_column(Text, default="")
    country: Mapped[str] = mapped_column(String(80), default="")
    outside_eea: Mapped[bool] = mapped_column(default=False)
    safeguard: Mapped[str] = mapped_column(Text, default="")  # e.g. adequacy decision, SCCs
    contact: Mapped[str] = mapped_column(String(320), default="")
    # Art. 19: tell this recipient about corrections, erasures and restrictions.
    notify_changes: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
