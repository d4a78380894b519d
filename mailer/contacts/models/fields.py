"""Custom contact fields with a data category, their values,
and each contact's own data key (Art. 9, 10, 32)."""

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.core.clock import utcnow
from mailer.core.extensions import Model

FIELD_CATEGORIES = ("ordinary", "personal_identifier", "sensitive")
# What a value must look like (checked wherever a value is stored: forms, preference centre, staff edits).
VALUE_TYPES = ("text", "number", "date", "email")
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
    value_type: Mapped[str] = mapped_column(String(10), default="text", server_default="text")
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

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    field_id: Mapped[int] = mapped_column(ForeignKey("contact_fields.id"), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
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
