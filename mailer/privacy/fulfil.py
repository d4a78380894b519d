"""Carry out a verified request: the one place that maps a request type to the right it exercises."""

from sqlalchemy import select

from mailer import audit
from mailer.consent.ledger import RequestContext
from mailer.consent.models import Purpose
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.privacy.erasure import erase_contact
from mailer.privacy.models.requests import PrivacyRequest, RequestType
from mailer.privacy.objection import object_to
from mailer.privacy.rectification import apply_changes
from mailer.privacy.requests import complete, mark_verified, open_request
from mailer.privacy.restriction import RESTRICTION_ROLES, lift_restriction, restrict
from mailer.staff.models.accounts import StaffUser


def can_fulfil_automatically(req: PrivacyRequest) -> bool:
    """Self-service requests complete on verification, except corrections to a restricted contact."""
    if req.channel != "preference-centre" or req.contact is None:
        return False
    return not (req.type == RequestType.RECTIFICATION and req.contact.status == ContactStatus.RESTRICTED)


def fulfil(
    req: PrivacyRequest, ctx: RequestContext, actor: StaffUser | None = None, ip: str | None = None
) -> str:
    """Exercise the right the request asks for and close it; returns a sentence describing the outcome."""
    if not req.is_open:
        raise PrivacyError("This request is already closed.")
    contact = req.contact
    # Nothing to disclose or change: no verification needed.
    if contact is None or contact.status == ContactStatus.ERASED:
        complete(req, "We hold no personal data about this person.", actor)
        return req.outcome
    if req.identity_verified_at is None:
        raise PrivacyError("Verify the person's identity first (send the verification link).")
    if req.type in (RequestType.ACCESS, RequestType.PORTABILITY):
        complete(req, "A download of all data held was made available to the person.", actor)
    elif req.type == RequestType.ERASURE:
        erase_contact(contact, ctx, request=req, actor=actor, ip=ip)
        complete(req, "Erased by anonymisation; a keyed hash of the address blocks re-adding.", actor)
    elif req.type == RequestType.RESTRICTION:
        if (req.details or {}).get("action") == "lift":
            _require_privacy_role(actor)
            lift_restriction(contact, ctx, request=req, actor=actor, ip=ip)
            complete(req, "Restriction lifted.", actor)
        else:
            restrict(contact, ctx, request=req, actor=actor, ip=ip)
            complete(req, "Processing restricted: no emails, no changes; the data stays stored.", actor)
    elif req.type == RequestType.OBJECTION:
        keys = (req.details or {}).get("purposes") or []
        purposes = list(db.session.execute(select(Purpose).where(Purpose.key.in_(keys))).scalars())
        stopped = object_to(contact, purposes, ctx, request=req)
        req.details = {**(req.details or {}), "stopped": stopped}  # named to the person in their language
        complete(
            req,
            "Objection recorded; stopped: " + (", ".join(stopped) or "nothing was still running") + ".",
            actor,
        )
    elif req.type == RequestType.RECTIFICATION:
        apply_changes(contact, req.details or {}, ctx, request=req, actor=actor, ip=ip)
    db.session.flush()
    return req.outcome or "Waiting for the new address to be confirmed."


def _require_privacy_role(actor: StaffUser | None) -> None:
    if actor is None or actor.role not in RESTRICTION_ROLES:
        raise PrivacyError("Only a privacy officer can lift a restriction.")


def verify_and_fulfil(req: PrivacyRequest, ctx: RequestContext) -> str | None:
    """The person followed the verification link: record it and, where the law allows, answer at once."""
    if req.identity_verified_at is None:
        mark_verified(req, "signed link to the address on file")
    if req.is_open and can_fulfil_automatically(req):
        return fulfil(req, ctx)
    return None


def erase_on_staff_decision(
    contact: Contact, actor: StaffUser | None, ip: str | None = None, reason: str = ""
) -> PrivacyRequest:
    """Erase a contact because staff decided to (the contact's Erase button, a bulk erasure): an erasure
    request is opened, verified by staff and completed around the erasure, so each one is in the request
    register, the ledger, the erasure register and the audit log alike; the caller commits."""
    ctx = RequestContext(f"admin:staff-{actor.id}" if actor is not None else "admin:bulk")
    req = open_request(RequestType.ERASURE, "admin", contact=contact, handled_by=actor)
    mark_verified(req, "staff")
    erase_contact(contact, ctx, request=req, actor=actor, ip=ip, reason=reason)
    complete(req, "Erased by anonymisation (staff action).", actor)
    return req


def erase_on_integration_request(
    contact: Contact, api_key_prefix: str, ip: str | None = None, reason: str = ""
) -> PrivacyRequest:
    """Erase a contact because an integration asked (POST /api/v1/contacts/{id}/erase, e.g. a shop passing on
    its customer's request): like a staff decision, an erasure request is opened on the "api" channel,
    verified by the key and completed around the erasure, and the erasure is audited with the key's
    prefix; the caller commits."""
    ctx = RequestContext(f"api:{api_key_prefix}", ip=ip)
    req = open_request(RequestType.ERASURE, "api", contact=contact)
    mark_verified(req, "api key")
    erase_contact(contact, ctx, request=req, ip=ip, reason=reason)
    details = {"request": req.public_id, "via": "api", "api_key": api_key_prefix}
    if reason:
        details["reason"] = reason[:200]
    audit.record("contact.erase", "contact", contact.public_id, details, ip=ip)
    complete(req, "Erased by anonymisation (API request).")
    return req
