"""Restriction of processing (Art. 18): the contact is frozen — stored, but not mailed and not edited."""

from mailer import audit
from mailer.consent.ledger import RequestContext, record_consent
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.journeys import operations as journeys
from mailer.privacy.models.requests import PrivacyRequest
from mailer.staff.models.accounts import StaffUser

# Only these roles may lift a restriction or change a restricted contact.
RESTRICTION_ROLES = ("owner", "privacy")


def restrict(
    contact: Contact,
    ctx: RequestContext,
    request: PrivacyRequest | None = None,
    actor: StaffUser | None = None,
    ip: str | None = None,
    reason: str = "",
) -> None:
    """Freeze a contact: the sending engine skips it, sign-ups and edits are refused; the caller commits."""
    if contact.status == ContactStatus.ERASED:
        raise PrivacyError("This contact was erased; there is nothing left to restrict.")
    if contact.status == ContactStatus.RESTRICTED:
        raise PrivacyError("This contact is already restricted.")
    _set_status(
        contact, ContactStatus.RESTRICTED, "restricted", "contact.restrict", ctx, request, actor, ip, reason
    )
    journeys.leave_all(contact.id, "restricted")


def lift_restriction(
    contact: Contact,
    ctx: RequestContext,
    request: PrivacyRequest | None = None,
    actor: StaffUser | None = None,
    ip: str | None = None,
    reason: str = "",
) -> None:
    """Lift a restriction (Art. 18(3): the person is told beforehand);
    recorded in the ledger and the audit log."""
    if contact.status != ContactStatus.RESTRICTED:
        raise PrivacyError("This contact is not restricted.")
    _set_status(
        contact, ContactStatus.ACTIVE, "unrestricted", "contact.unrestrict", ctx, request, actor, ip, reason
    )


def _set_status(
    contact: Contact,
    status: ContactStatus,
    ledger_action: str,
    audit_action: str,
    ctx: RequestContext,
    request: PrivacyRequest | None,
    actor: StaffUser | None,
    ip: str | None,
    reason: str,
) -> None:
    """The one way restriction changes a contact: its status, a ledger event, and an audit entry for staff."""
    details = {"request": request.public_id} if request is not None else {}
    contact.status = status
    record_consent(contact, None, ledger_action, ctx, details=details)
    if actor is not None:
        audit.record(
            audit_action,
            "contact",
            contact.public_id,
            {**details, "reason": reason[:500]},
            actor=actor,
            ip=ip,
        )
    db.session.flush()


def ensure_editable(contact: Contact, role: str | None) -> None:
    """Refuse changes to a restricted contact unless made by a privacy officer (or the owner)."""
    if contact.status == ContactStatus.ERASED:
        raise PrivacyError("This contact was erased and cannot be edited.")
    if contact.status == ContactStatus.RESTRICTED and role not in RESTRICTION_ROLES:
        raise PrivacyError("This contact is restricted (Art. 18): only a privacy officer can change it.")
