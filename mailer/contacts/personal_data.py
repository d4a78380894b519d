"""What an erasure hook is given, and what erasure does to the contacts domain's own data."""

import re
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import delete, select

from mailer.contacts import keys
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.fields import ContactFieldValue
from mailer.contacts.models.tags import ContactTag
from mailer.core.extensions import db

POSTCODE_KEYS = ("postcode", "zip", "postal_code")
BIRTH_DATE_KEYS = ("birth_date", "birthday", "date_of_birth")


def _needles(email: str | None, name: str | None) -> list[str]:
    """What identifies the person in free text: the address, its local part, the name and its longer parts."""
    found = [email, email.split("@")[0] if email else None, name, *((name or "").replace("-", " ").split())]
    return list(dict.fromkeys(n for n in found if n and len(n) >= 3))


@dataclass(frozen=True)
class ErasedContact:
    """A contact being erased: the row (already blanked) and what identified the person before."""

    contact: Contact
    email: str | None
    name: str | None
    attributes: dict
    needles: list[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "needles", _needles(self.email, self.name))

    def scrub(self, text: str) -> str:
        """Replace whole-word occurrences of the address and the name (and its parts) in free text."""
        for needle in sorted(self.needles, key=len, reverse=True):
            text = re.sub(r"(?<!\w)" + re.escape(needle) + r"(?!\w)", "[erased]", text, flags=re.I)
        return text


def coarsen(kind: str, value: str) -> str | None:
    """A quasi-identifier reduced to something that no longer singles a person out (or None: removed)."""
    value = (value or "").strip()
    if kind == "postcode" and value:
        return value[:2] + "…"  # the region, e.g. "10…" of 10115
    if kind == "birth_date":
        match = re.search(r"(1[89]|20)\d\d", value)
        return f"{match.group(0)[:3]}0s" if match else None  # the decade
    return None  # gender and anything else: removed


def _coarse_quasi_identifiers(contact: Contact, attributes: dict) -> dict:
    """Coarsened postcode / birth decade from declared fields and free-form attributes."""
    coarse = {}
    rows = db.session.execute(
        select(ContactFieldValue).where(ContactFieldValue.contact_id == contact.id)
    ).scalars()
    for row in rows:
        if row.field.quasi_identifier and not row.field.is_sensitive:
            kept = coarsen(row.field.quasi_identifier, row.value or "")
            if kept:
                coarse[row.field.key] = kept
    for key in (*POSTCODE_KEYS, *BIRTH_DATE_KEYS):
        if isinstance(attributes.get(key), (str, int, date)):
            kind = "postcode" if key in POSTCODE_KEYS else "birth_date"
            kept = coarsen(kind, str(attributes[key]))
            if kept:
                coarse[key] = kept
    return coarse


def forget_contact_data(erased: ErasedContact) -> None:
    """Field values, tags and the data key go (ciphertexts become unreadable); quasi-identifiers stay
    coarsened."""
    contact = erased.contact
    coarse = _coarse_quasi_identifiers(contact, erased.attributes or {})
    db.session.execute(delete(ContactFieldValue).where(ContactFieldValue.contact_id == contact.id))
    db.session.execute(delete(ContactTag).where(ContactTag.contact_id == contact.id))
    keys.shred(contact)
    contact.attributes = {"coarsened": coarse} if coarse else {}
    contact.last_activity_at = None
