"""Custom contact fields: categories, Art. 10 refusal, encrypted sensitive values,
masking and audited reveals."""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext
from sqlalchemy import delete, select

from mailer import audit
from mailer.contacts import hooks, keys
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.models.fields import (
    CHOICE_SEPARATOR,
    CHOICE_TYPES,
    FIELD_CATEGORIES,
    QUASI_IDENTIFIERS,
    VALUE_TYPES,
    ContactField,
    ContactFieldValue,
)
from mailer.contacts.operations import AddressError, normalise_email
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.core.text import has_controls

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
MAX_VALUE_LENGTH = 500
MASK = "••••"
NUMBER_RE = re.compile(r"^[+-]?\d{1,15}(?:[.,]\d{1,6})?$")
MAX_CHOICES = 50
MAX_CHOICE_LENGTH = 100
YES_WORDS = {"yes", "y", "true", "1", "on", "ja", "oui", "si", "sí"}
NO_WORDS = {"no", "n", "false", "0", "off", "nein", "non"}
TYPE_NAMES = {
    "text": lazy_gettext("Text"),
    "number": lazy_gettext("Number"),
    "date": lazy_gettext("Date"),
    "email": lazy_gettext("Email address"),
    "single_choice": lazy_gettext("Single choice"),
    "multiple_choice": lazy_gettext("Multiple choice"),
    "yes_no": lazy_gettext("Yes / no"),
}
# Art. 10: data on criminal convictions and offences may only be processed under official authority.
CRIMINAL_RECORD_RE = re.compile(
    r"crimin|convict|offen[cs]e|felon|arrest|police.?record|prison|sentenc|"
    r"vorstraf|straftat|casier.?judiciaire",
    re.I,
)


class FieldDefinitionError(PrivacyError):
    """A field definition is refused: the message says why, `field_name` which input (key, label, category,
    quasi_identifier, type, choices) is wrong; `taken` when the key is already used."""

    def __init__(self, message: str, field_name: str, taken: bool = False):
        super().__init__(message)
        self.field_name = field_name
        self.taken = taken


@dataclass
class FieldDisplay:
    """A field as a staff view shows it: the value masked when sensitive."""

    field: ContactField
    shown: str
    masked: bool
    has_value: bool


def all_fields(active_only: bool = True) -> list[ContactField]:
    """Every defined field, by label."""
    query = select(ContactField).order_by(ContactField.label)
    if active_only:
        query = query.where(ContactField.active.is_(True))
    return list(db.session.execute(query).scalars())


def field_by_key(key: str) -> ContactField | None:
    return db.session.execute(select(ContactField).where(ContactField.key == key)).scalar_one_or_none()


def define_field(
    key: str,
    label: str,
    category: str,
    help_text: str = "",
    quasi_identifier: str = "",
    value_type: str = "text",
    choices: str | list[str] | None = None,
) -> ContactField:
    """Create a field; criminal-record fields are refused and sensitive ones get their own consent purpose.

    choices: the answers of a single- or multiple-choice field (a list, or text with one per line).
    """
    key, label = (key or "").strip().lower(), " ".join((label or "").split())
    if not KEY_RE.match(key):
        raise FieldDefinitionError(
            "The key may use lower-case letters, digits and underscores, starting with a letter.", "key"
        )
    if not label or len(label) > 120:
        raise FieldDefinitionError("Give the field a label (120 characters at most).", "label")
    if category not in FIELD_CATEGORIES:
        raise FieldDefinitionError(f"The category must be one of: {', '.join(FIELD_CATEGORIES)}.", "category")
    if quasi_identifier not in QUASI_IDENTIFIERS:
        raise FieldDefinitionError("Unknown quasi-identifier kind.", "quasi_identifier")
    if value_type not in VALUE_TYPES:
        raise FieldDefinitionError(f"The type must be one of: {', '.join(VALUE_TYPES)}.", "type")
    if CRIMINAL_RECORD_RE.search(f"{key} {label} {help_text}"):
        raise FieldDefinitionError(
            "Data about criminal convictions and offences (Art. 10 GDPR) cannot be stored here.", "label"
        )
    if field_by_key(key) is not None:
        raise FieldDefinitionError("A field with that key already exists.", "key", taken=True)
    try:
        allowed = clean_choices(choices) if value_type in CHOICE_TYPES else []
    except PrivacyError as exc:
        raise FieldDefinitionError(str(exc), "choices") from None
    field = ContactField(
        key=key,
        label=label,
        category=category,
        help_text=(help_text or "").strip()[:2000],
        quasi_identifier=quasi_identifier,
        value_type=value_type,
        choices=allowed,
    )
    if category == "sensitive":
        field.purpose = hooks.new_purpose(key, label)
    db.session.add(field)
    db.session.flush()
    return field


def clean_choices(choices: str | list[str] | None) -> list[str]:
    """The answers of a choice field: one per line (or a list), trimmed, distinct, at least two."""
    lines = choices.splitlines() if isinstance(choices, str) else list(choices or [])
    cleaned: list[str] = []
    for line in lines:
        choice = " ".join(str(line).split())
        if not choice:
            continue
        if has_controls(choice) or len(choice) > MAX_CHOICE_LENGTH:
            raise PrivacyError(f"Each choice must be plain text of {MAX_CHOICE_LENGTH} characters at most.")
        if CHOICE_SEPARATOR.strip() in choice:
            raise PrivacyError(f"A choice may not contain “{CHOICE_SEPARATOR.strip()}”.")
        if choice.casefold() in {c.casefold() for c in cleaned}:
            raise PrivacyError(f"The choice “{choice}” is listed twice.")
        cleaned.append(choice)
    if len(cleaned) < 2:
        raise PrivacyError("A choice field needs at least two choices, one per line.")
    if len(cleaned) > MAX_CHOICES:
        raise PrivacyError(f"A choice field can have {MAX_CHOICES} choices at most.")
    return cleaned


def field_for_purpose(purpose: hooks.PurposeRef) -> ContactField | None:
    """The sensitive field whose explicit-consent purpose this is, if any."""
    return db.session.execute(
        select(ContactField).where(ContactField.purpose_id == purpose.id)
    ).scalar_one_or_none()


def consent_label(field: ContactField) -> str:
    """The words next to the unticked checkbox that asks for explicit consent to store a sensitive field."""
    purpose = field.purpose.description if field.purpose is not None else ""
    return f"Yes, I explicitly agree that you store my {field.label.lower()}. {purpose}".strip()


def consent_notice(field: ContactField):
    """The immutable notice recording exactly what the consent checkbox for this field said."""
    return hooks.publish_notice(
        f"field-consent:{field.key}", {"field": field.key, "checkbox": consent_label(field)}
    )


def mask(value: str) -> str:
    """Hide a sensitive value: long numbers keep their last four digits (•••• 4242),
    anything else is hidden."""
    compact = re.sub(r"[\s-]", "", value or "")
    if len(compact) >= 8 and sum(c.isdigit() for c in compact) >= 6:
        return f"{MASK} {compact[-4:]}"
    return MASK


def _row(contact: Contact, field: ContactField) -> ContactFieldValue | None:
    return db.session.get(ContactFieldValue, (contact.id, field.id))


def clean_value(field: ContactField, raw: str | None, label: str = "") -> str:
    """The value as stored ('' for none), or PrivacyError saying what is wrong with it
    (length, characters, type)."""
    label = label or field.label
    value = " ".join((raw or "").split())
    if len(value) > MAX_VALUE_LENGTH:
        raise PrivacyError(f"“{label}” is too long ({MAX_VALUE_LENGTH} characters at most).")
    # The one control-character rule, and private-use characters, which mean nothing to anyone else.
    if has_controls(value) or any(unicodedata.category(ch) == "Co" for ch in value):
        raise PrivacyError(f"“{label}” contains characters we can't store. Please type it again.")
    if not value:
        return ""
    if field.value_type == "number":
        if not NUMBER_RE.match(value):
            raise PrivacyError(f"“{label}” must be a number, like 42 or 3.5.")
        return value.replace(",", ".")
    if field.value_type == "date":
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise PrivacyError(f"“{label}” must be a date written as YYYY-MM-DD, like 1990-04-23.") from None
        if not 1900 <= day.year <= 2100:
            raise PrivacyError(f"“{label}” must be a date between the years 1900 and 2100.")
        return day.isoformat()
    if field.value_type == "email":
        try:
            return normalise_email(value)
        except AddressError:
            raise PrivacyError(f"“{label}” must be an email address, like name@example.com.") from None
    if field.value_type == "yes_no":
        word = value.casefold()
        if word not in YES_WORDS | NO_WORDS:
            raise PrivacyError(f"“{label}” must be yes or no.")
        return "yes" if word in YES_WORDS else "no"
    if field.value_type in CHOICE_TYPES:
        return _clean_choice_value(field, value, label)
    return value


def _clean_choice_value(field: ContactField, value: str, label: str) -> str:
    """One of the field's choices (any letter case), or several joined in the field's order."""
    by_folded = {choice.casefold(): choice for choice in field.choices or []}
    parts = [value] if field.value_type == "single_choice" else value.split(CHOICE_SEPARATOR.strip())
    picked = set()
    for part in (" ".join(p.split()) for p in parts):
        if not part:
            continue
        if part.casefold() not in by_folded:
            offered = ", ".join(field.choices or [])
            raise PrivacyError(f"“{label}” must be one of: {offered}.")
        picked.add(by_folded[part.casefold()])
    return CHOICE_SEPARATOR.join(choice for choice in field.choices or [] if choice in picked)


@dataclass(frozen=True)
class Invalid:
    """Why a raw value cannot be stored in a field, in words for the person who gave it."""

    message: str


def coerce(field: ContactField, raw: str | None) -> str | Invalid:
    """The value as it would be stored ('' for none), or Invalid with the reason (for imports, row by row)."""
    try:
        return clean_value(field, raw)
    except PrivacyError as exc:
        return Invalid(str(exc))


def typed_columns(field: ContactField, value: str) -> tuple[float | None, date | None]:
    """The number and date a stored value also gets, so segments compare them in SQL as such."""
    if field.value_type == "number":
        return float(value), None
    if field.value_type == "date":
        return None, date.fromisoformat(value)
    return None, None


def set_value(
    contact: Contact, field: ContactField, raw: str | None, consent_pending_ok: bool = False
) -> None:
    """Store (or clear, when empty) a value;
    sensitive values need the person's explicit consent and are encrypted.

    consent_pending_ok: the consent was ticked on a sign-up form a moment ago and awaits the double opt-in
    that confirms the address (the value goes when the unconfirmed sign-up is purged, or with a withdrawal).
    """
    value = clean_value(field, raw)
    row = _row(contact, field)
    if not value:
        if row is not None:
            db.session.delete(row)
        return
    accepted = ("granted", "pending") if consent_pending_ok else ("granted",)
    if field.is_sensitive and (
        field.purpose is None or hooks.consent_status(contact, field.purpose) not in accepted
    ):
        raise PrivacyError(
            f"“{field.label}” is sensitive: it can only be stored with the person's explicit consent."
        )
    if row is None:
        row = ContactFieldValue(contact_id=contact.id, field_id=field.id)
        db.session.add(row)
    if field.is_sensitive:
        row.value, row.ciphertext = None, keys.seal(contact, field.key, value)
        row.number_value, row.date_value = None, None
    else:
        row.value, row.ciphertext = value, None
        row.number_value, row.date_value = typed_columns(field, value)
    db.session.flush()


def has_value(contact: Contact, field: ContactField) -> bool:
    return _row(contact, field) is not None


def drop_values_under(contact: Contact, purpose: hooks.PurposeRef) -> None:
    """Without its consent a sensitive value may not be kept:
    delete the values collected under this purpose."""
    field_ids = select(ContactField.id).where(ContactField.purpose_id == purpose.id)
    db.session.execute(
        delete(ContactFieldValue).where(
            ContactFieldValue.contact_id == contact.id, ContactFieldValue.field_id.in_(field_ids)
        )
    )


def read_value(contact: Contact, field: ContactField) -> str | None:
    """The clear value (for the person themself and audited reveals only)."""
    row = _row(contact, field)
    if row is None:
        return None
    return keys.unseal(contact, field.key, row.ciphertext) if field.is_sensitive else row.value


def values_for(contact: Contact, clear_sensitive: bool = False) -> list[tuple[ContactField, str]]:
    """Every value a contact has, masked unless clear_sensitive (the person's own export)."""
    rows = db.session.execute(
        select(ContactFieldValue).where(ContactFieldValue.contact_id == contact.id)
    ).scalars()
    result = []
    for row in rows:
        if row.field.is_sensitive:
            clear = keys.unseal(contact, row.field.key, row.ciphertext)
            shown = (clear if clear is not None else "(unreadable)") if clear_sensitive else mask(clear or "")
        else:
            shown = row.value or ""
        result.append((row.field, shown))
    return sorted(result, key=lambda pair: pair[0].label)


def merge_values(contact_ids: list[int]) -> dict[int, dict[str, str]]:
    """Each contact's ordinary field values by key, for merge tags (one query; sensitive values never)."""
    if not contact_ids:
        return {}
    rows = db.session.execute(
        select(ContactFieldValue.contact_id, ContactField.key, ContactFieldValue.value)
        .join(ContactField, ContactField.id == ContactFieldValue.field_id)
        .where(
            ContactFieldValue.contact_id.in_(contact_ids),
            ContactField.category != "sensitive",
            ContactField.active.is_(True),
            ContactFieldValue.value.is_not(None),
        )
    )
    found: dict[int, dict[str, str]] = {}
    for contact_id, key, value in rows:
        found.setdefault(contact_id, {})[key] = value or ""
    return found


def display_fields(contact: Contact) -> list[FieldDisplay]:
    """Every active field with the contact's value as staff see it: sensitive ones masked."""
    values = {f.id: v for f, v in values_for(contact)}
    return [FieldDisplay(f, values.get(f.id, ""), f.is_sensitive, f.id in values) for f in all_fields()]


def reveal(contact: Contact, field: ContactField, actor: object, reason: str, ip: str | None = None) -> str:
    """Show a sensitive value to a permitted staff member who gave a reason; every reveal is audited."""
    reason = " ".join((reason or "").split())
    if len(reason) < 5:
        raise PrivacyError("Say why you need to see this value (at least a few words).")
    if contact.status == ContactStatus.ERASED:
        raise PrivacyError("This contact was erased: there is nothing left to show.")
    value = read_value(contact, field)
    audit.record(
        "contact.view_sensitive",
        "contact",
        contact.public_id,
        {"field": field.key, "reason": reason[:500]},
        actor=actor,
        ip=ip,
    )
    db.session.commit()
    return value if value is not None else "(no value)"
