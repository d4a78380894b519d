"""Embeddable sign-up forms."""

from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.core.clock import utcnow
from mailer.core.extensions import Model, db
from mailer.core.ids import new_public_id

form_lists = Table(
    "form_lists",
    db.metadata,
    Column("form_id", ForeignKey("forms.id", ondelete="CASCADE"), primary_key=True),
    Column("list_id", ForeignKey("mailing_lists.id", ondelete="CASCADE"), primary_key=True),
)

form_purposes = Table(
    "form_purposes",
    db.metadata,
    Column("form_id", ForeignKey("forms.id", ondelete="CASCADE"), primary_key=True),
    Column("purpose_id", ForeignKey("purposes.id", ondelete="CASCADE"), primary_key=True),
)


class Form(Model):
    """A sign-up form: what it offers, what it says (via its current notice) and where it may be embedded."""

    __tablename__ = "forms"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(200), default="Subscribe to our newsletter")
    intro: Mapped[str] = mapped_column(Text, default="")
    button_label: Mapped[str] = mapped_column(String(60), default="Subscribe")
    labels: Mapped[dict] = mapped_column(JSON, default=dict)
    ask_name: Mapped[bool] = mapped_column(default=True)
    require_name: Mapped[bool] = mapped_column(default=False)
    min_age: Mapped[int | None]
    privacy_text: Mapped[str] = mapped_column(Text, default="")
    allowed_origins: Mapped[str] = mapped_column(Text, default="")
    success_message: Mapped[str] = mapped_column(Text, default="")
    redirect_url: Mapped[str] = mapped_column(String(500), default="")
    # Where a person who confirmed a sign-up made on this form is sent (303); "" = our confirmation page.
    after_confirm_url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    active: Mapped[bool] = mapped_column(default=True)
    # The language of the form's pages and of the people who sign up through it: one of `languages`, or "" to
    # follow each visitor's browser (Accept-Language) among `languages`.
    language: Mapped[str] = mapped_column(String(10), default="", server_default="")
    # The language of the wording held in this row (title, intro, labels, privacy text...); other languages'
    # wording is in FormWording rows.
    wording_language: Mapped[str] = mapped_column(String(10), default="en", server_default="en")
    # The languages the form is published in: the wording language first, then translated ones (each has a
    # FormWording row, so its own notice version).
    languages: Mapped[list] = mapped_column(JSON, default=lambda: ["en"])
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"))
    # Archived: takes no sign-ups (410), out of the default listing; can come back. Deleted: a tombstone, so
    # its notice versions and the evidence of past sign-ups stay; its slug stays taken and answers 410.
    archived_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    lists = relationship("MailingList", secondary=form_lists, order_by="MailingList.name")
    fields = relationship("FormField", order_by="FormField.position", cascade="all, delete-orphan")
    purposes = relationship("Purpose", secondary=form_purposes, order_by="Purpose.name")
    notice = relationship("Notice")
    wordings = relationship("FormWording", order_by="FormWording.language", cascade="all, delete-orphan")

    @property
    def origins(self) -> list[str]:
        """Allowed embedding origins, one per line, normalised without trailing slash."""
        return [o.strip().rstrip("/").lower() for o in self.allowed_origins.splitlines() if o.strip()]


class FormField(Model):
    """A custom contact field a form asks for, with its wording on that form and whether it must be filled."""

    __tablename__ = "form_fields"

    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), primary_key=True)
    field_id: Mapped[int] = mapped_column(
        ForeignKey("contact_fields.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(200), default="")
    required: Mapped[bool] = mapped_column(default=False)

    field = relationship("ContactField", lazy="joined")

    @property
    def shown_label(self) -> str:
        return self.label or self.field.label


class FormWording(Model):
    """A form's words in another language than its own; each version is published as its own notice."""

    __tablename__ = "form_wordings"
    __table_args__ = (UniqueConstraint("form_id", "language", name="uq_form_wordings_form_language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(200))
    intro: Mapped[str] = mapped_column(Text, default="")
    button_label: Mapped[str] = mapped_column(String(60))
    labels: Mapped[dict] = mapped_column(JSON, default=dict)  # purpose key -> checkbox wording
    field_labels: Mapped[dict] = mapped_column(JSON, default=dict)  # contact field key -> label
    privacy_text: Mapped[str] = mapped_column(Text, default="")
    success_message: Mapped[str] = mapped_column(Text, default="")
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    notice = relationship("Notice")
