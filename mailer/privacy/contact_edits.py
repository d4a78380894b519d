"""Contact edits through the API: name, free attributes and custom fields, audited; restricted contacts
refused.

Field values go through the privacy rectification rules (sensitive values need the person's granted consent
and are encrypted); restriction (Art. 18) is checked first, because an API key is never a privacy officer.
"""

import re
from dataclasses import dataclass, field

from mailer import audit
from mailer.consent.ledger import RequestContext
from mailer.contacts import fields as field_service
from mailer.contacts.models.contact import Contact
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.core.text import has_controls
from mailer.privacy import rectification
from mailer.privacy.restriction import ensure_editable
from mailer.staff.models.api_keys import ApiKey

ATTRIBUTE_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,59}$")
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_LENGTH = 500


class ContactLockedError(Exception):
    """The contact may not be changed through the API (restricted or erased); the message says why."""


class ContactEditError(ValueError):
    """A requested change is not valid; `field_name` names the part of the request."""

    def __init__(self, message: str, field_name: str):
        super().__init__(message)
        self.field_name = field_name


@dataclass
class ContactPatch:
    """What to change; None leaves a part unchanged. attributes merge
    (a null value removes that attribute)."""

    name: str | None = None
    attributes: dict | None = None
    fields: dict[str, str] = field(default_factory=dict)


def _merged_attributes(contact: Contact, changes: dict) -> dict:
    merged = dict(contact.attributes or {})
    for key, value in changes.items():
        if not ATTRIBUTE_KEY_RE.match(key):
            raise ContactEditError(
                f"Attribute name “{key[:60]}” is not allowed: use letters, digits and "
                "underscores, starting with a letter (60 characters at most).",
                "attributes",
            )
        if field_service.field_by_key(key) is not None:
            raise ContactEditError(
                f"“{key}” is a contact field: set it under “fields”, where its privacy rules apply.",
                "attributes",
            )
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, str) and len(value) > MAX_ATTRIBUTE_LENGTH:
            raise ContactEditError(
                f"Attribute “{key}” is too long ({MAX_ATTRIBUTE_LENGTH} characters at most).", "attributes"
            )
        elif isinstance(value, str) and has_controls(value):
            raise ContactEditError(
                f"Attribute “{key}” contains control characters that can't be stored.", "attributes"
            )
        elif not isinstance(value, (str, int, float, bool)):
            raise ContactEditError(
                f"Attribute “{key}” must be a string, number, boolean or null.", "attributes"
            )
        else:
            merged[key] = value
    if len(merged) > MAX_ATTRIBUTES:
        raise ContactEditError(f"A contact can have at most {MAX_ATTRIBUTES} attributes.", "attributes")
    return merged


def update_contact(
    contact: Contact, patch: ContactPatch, api_key: ApiKey, ip: str | None = None
) -> list[str]:
    """Apply a patch completely or not at all; returns the names of what changed. Commits."""
    try:
        ensure_editable(contact, None)
    except PrivacyError as exc:
        raise ContactLockedError(str(exc)) from None
    attributes = _merged_attributes(contact, patch.attributes) if patch.attributes is not None else None
    for field_key, value in patch.fields.items():
        if has_controls(field_key + value):
            raise ContactEditError(
                "The value contains control characters that can't be stored.", f"fields.{field_key[:60]}"
            )
    changes: dict = {}
    parts = [("name", rectification.Correction(name=patch.name))] + [
        (f"fields.{key[:60]}", rectification.Correction(fields={key: value}))
        for key, value in patch.fields.items()
    ]
    for part, correction in parts:
        try:
            checked = rectification.validate(contact, correction)
            changes.update({k: v for k, v in checked.items() if k not in ("fields", "consented_fields")})
            changes.setdefault("fields", {}).update(checked.get("fields", {}))
        except PrivacyError as exc:
            raise ContactEditError(str(exc), part) from None
    applied = rectification.apply_changes(contact, changes, RequestContext(f"api:{api_key.prefix}", ip=ip))
    if attributes is not None and attributes != (contact.attributes or {}):
        contact.attributes = attributes
        applied.append("attributes")
    if applied:
        audit.record(
            "contact.edit",
            "contact",
            contact.public_id,
            {"fields_changed": applied, "via": "api", "api_key": api_key.prefix},
            ip=ip,
        )
    db.session.commit()
    return applied
