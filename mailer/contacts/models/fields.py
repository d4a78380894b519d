"""Custom contact fields with a data category, their values,
and each contact's own data key (Art. 9, 10, 32)."""

from datetime import date, datetime

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.core.clock import utcnow
from mailer.core.extensions import Model

FIELD_CATEGORIES = ("ordinary", "personal_identifier", "sensitive")
# What a value must look like (checked wherever a value is stored: forms, preference centre, staff edits).
VALUE_TYPES = ("text", "number", "date", "email", "single_choice", "multiple_choice", "yes_no")
CHOICE_TYPES = ("single_choice", "multiple_choice")
# How a multiple-choice value is stored: its choices in the field's order, joined by this separator (which a
# choice may not contain), so a segment finds one choice with a LIKE on both backends.
CHOICE_SEPARATOR = "; "
# Values that, combined, re-identify a person; erasure coarsens or removes them.
QUASI_IDENTIFIERS = ("", "postcode", "birth_date", "gender")


class ContactField(Model):
    """A field staff defined for contacts (e.g. company, postcode, health condition) and its category."""

    __tablename__ = "contact_fields"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    label: Mapped[str] = mapped_column(String(120))
    help_text: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(30), default="ordinary")
    value_type: Mapped[str] = mapped_column(String(20), default="text", server_default="text")
    # The allowed answers of a single- or multiple-choice field, in the order forms show them.
    choices: Mapped[list] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    quasi_identifier: Mapped[str] = mapped_column(String(20), default="")
    # Sensitive fields are collected only with explicit consent to this purpose (Art. 9(2)(a)).
    purpose_id: Mapped[int | None] = mapped_column(ForeignKey("purposes.id"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    purpose = relationship("Purpose")

    @property
    def is_sensitive(self) -> bool:
        return self.category == "sensitive"


class ContactFieldValue(Model):
    """One contact's value for one field: clear text, or ciphertext under the contact's key when sensitive."""

    __tablename__ = "contact_field_values"
    # A segment compares one field's values: by text (text, email, choices, yes/no), number or date.
    __table_args__ = (
        Index("ix_contact_field_values_field_value", "field_id", "value"),
        Index("ix_contact_field_values_field_number", "field_id", "number_value"),
        Index("ix_contact_field_values_field_date", "field_id", "date_value"),
    )

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    field_id: Mapped[int] = mapped_column(ForeignKey("contact_fields.id"), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The same value typed, for number and date fields (never for sensitive ones), so SQL compares it as such.
    number_value: Mapped[float | None] = mapped_column(Float)
    date_value: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    field = relationship("ContactField")


class ContactKey(Model):
    """A contact's own data key, wrapped by the configured master keys;
    deleting it shreds their ciphertexts."""

    __tablename__ = "contact_keys"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rotated_at: Mapped[datetime | None]
