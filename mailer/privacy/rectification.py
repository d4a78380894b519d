"""Rectification (Art. 16): corrections to name and fields apply at once;
a new address only after double opt-in."""

from dataclasses import dataclass, field

from sqlalchemy import select

from mailer import audit
from mailer.consent.ledger import RequestContext, consent_status, record_consent
from mailer.contacts import fields as field_service
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.operations import (
    AddressError,
    clean_name,
    email_hash,
    find_contact_by_email,
    normalise_email,
)
from mailer.core.broker import enqueue_after_commit
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.core.security import TokenExpired, TokenInvalid, read_token
from mailer.core.text import TextRefused, has_controls, refusal_message
from mailer.privacy.models.requests import OPEN_STATUSES, PrivacyRequest, RequestType
from mailer.privacy.requests import complete, request_by_public_id
from mailer.privacy.restriction import ensure_editable
from mailer.staff.models.accounts import StaffUser

RECONFIRM_MAX_AGE = 7 * 24 * 3600


@dataclass
class Correction:
    """What a person (or staff on their behalf) wants changed; None leaves a value as it is."""

    name: str | None = None
    email: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    consented_fields: set[str] = field(
        default_factory=set
    )  # sensitive fields the person explicitly agreed to store


def validate(contact: Contact, correction: Correction) -> dict:
    """Check a correction completely; returns the changes as a JSON-safe dict (stored on the request)."""
    changes: dict = {}
    if correction.name is not None:
        try:
            name = clean_name(correction.name)
        except TextRefused as exc:
            raise PrivacyError(str(exc)) from None
        if name != (contact.name or ""):
            changes["name"] = name
    if correction.email:
        try:
            email = normalise_email(correction.email)
        except AddressError as exc:
            raise PrivacyError(str(exc)) from None
        if email != contact.email:
            changes["new_email"] = email
    fields_changed = {}
    for key, raw in correction.fields.items():
        definition = field_service.field_by_key(key)
        if definition is None or not definition.active:
            raise PrivacyError("One of the fields is unknown. Please reload the page.")
        value = " ".join((raw or "").split())
        if has_controls(value):
            raise PrivacyError(refusal_message(f"“{definition.label}”"))
        if len(value) > field_service.MAX_VALUE_LENGTH:
            raise PrivacyError(f"“{definition.label}” is too long.")
        if (
            value
            and definition.is_sensitive
            and key not in correction.consented_fields
            and consent_status(contact, definition.purpose) != "granted"
        ):
            raise PrivacyError(
                f"To store your {definition.label.lower()} we need your explicit consent: "
                "tick the box next to it."
            )
        value = field_service.clean_value(definition, value)  # its type and choices, as every door checks
        if value != (field_service.read_value(contact, definition) or ""):
            fields_changed[key] = value
    if fields_changed:
        changes["fields"] = fields_changed
        changes["consented_fields"] = sorted(k for k in correction.consented_fields if k in fields_changed)
    return changes


def apply_changes(
    contact: Contact,
    changes: dict,
    ctx: RequestContext,
    request: PrivacyRequest | None = None,
    actor: StaffUser | None = None,
    ip: str | None = None,
) -> list[str]:
    """Apply name and field changes now; a new address waits for its confirmation. Returns what changed."""
    ensure_editable(contact, actor.role if actor is not None else None)
    applied = []
    if "name" in changes:
        contact.name = changes["name"] or None
        applied.append("name")
    for key, value in (changes.get("fields") or {}).items():
        definition = field_service.field_by_key(key)
        if definition is None:  # unknown keys were refused when the change was checked
            continue
        if (
            definition.is_sensitive
            and value
            and key in (changes.get("consented_fields") or [])
            and consent_status(contact, definition.purpose) != "granted"
        ):
            record_consent(
                contact,
                definition.purpose,
                "granted",
                ctx,
                notice=field_service.consent_notice(definition),
                details={"field": key, **({"request": request.public_id} if request else {})},
            )
        field_service.set_value(contact, definition, value)
        applied.append(key)
    if changes.get("new_email"):
        if request is None:
            raise PrivacyError("A new address is confirmed through a request; open one first.")
        request.details = {**(request.details or {}), "new_email": changes["new_email"]}
        enqueue_after_commit(db.session, "send_address_reconfirmation", request.id)
        applied.append("email (after confirmation)")
    if actor is not None and applied:
        audit.record(
            "contact.edit",
            "contact",
            contact.public_id,
            {"fields_changed": applied, **({"request": request.public_id} if request else {})},
            actor=actor,
            ip=ip,
        )
    if request is not None:
        request.details = {
            **{k: v for k, v in (request.details or {}).items() if k not in ("name", "fields")},
            "fields_changed": applied,
        }
        if not changes.get("new_email"):
            complete(request, "Corrected: " + (", ".join(applied) or "nothing needed changing") + ".", actor)
    db.session.flush()
    return applied


def staff_edit(
    contact: Contact, name: str, values: dict[str, str], actor: StaffUser, ip: str | None = None
) -> list[str]:
    """Staff correct a contact's name and ordinary fields at once, without a privacy request: checked as any
    correction, audited by field name (never the values); sensitive fields stay with the privacy flow.
    Commits; returns what changed."""
    for key in values:
        definition = field_service.field_by_key(key)
        if definition is None or definition.is_sensitive:
            raise PrivacyError("One of the fields cannot be changed here. Please reload the page.")
    changes = validate(contact, Correction(name=name, fields=values))
    applied = apply_changes(contact, changes, RequestContext(source="admin", ip=ip), actor=actor, ip=ip)
    db.session.commit()
    return applied


@dataclass
class ReconfirmOutcome:
    status: str  # confirmed | already | taken | invalid | expired


def confirm_new_address(token: str, ctx: RequestContext) -> ReconfirmOutcome:
    """The new address confirmed it is reachable and wanted: start using it (double opt-in for changes)."""
    try:
        public_id = read_token("reconfirm-email", token, max_age=RECONFIRM_MAX_AGE)
    except TokenExpired:
        return ReconfirmOutcome("expired")
    except TokenInvalid:
        return ReconfirmOutcome("invalid")
    req = request_by_public_id(public_id) if isinstance(public_id, str) else None
    if req is None or req.contact is None or req.contact.status == ContactStatus.ERASED:
        return ReconfirmOutcome("invalid")
    new_email = (req.details or {}).get("new_email")
    contact = req.contact
    if not new_email:
        return ReconfirmOutcome("already")
    other = find_contact_by_email(new_email)
    if other is not None and other.id != contact.id:
        return ReconfirmOutcome("taken")
    contact.email, contact.email_hash = new_email, email_hash(new_email)
    # One ledger event proves the new address was confirmed by its owner;
    # its email column holds the new address.
    record_consent(contact, None, "confirmed", ctx, details={"change": "address", "request": req.public_id})
    req.details = {k: v for k, v in req.details.items() if k != "new_email"}
    complete(req, "Corrected: email address (confirmed by the new address).")
    db.session.commit()
    return ReconfirmOutcome("confirmed")


def pending_address_change(contact: Contact) -> PrivacyRequest | None:
    """An open rectification still waiting for the new address to confirm."""
    query = select(PrivacyRequest).where(
        PrivacyRequest.contact_id == contact.id,
        PrivacyRequest.type == RequestType.RECTIFICATION,
        PrivacyRequest.status.in_(OPEN_STATUSES),
    )
    for req in db.session.execute(query).scalars():
        if (req.details or {}).get("new_email"):
            return req
    return None
