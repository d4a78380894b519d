"""Objection (Art. 21) per purpose; objecting to direct marketing stops all marketing at once, until the
person themself asks for marketing again by a fresh, explicit action (lift_marketing_objection)."""

from sqlalchemy import select

from mailer import audit
from mailer.consent.ledger import RequestContext, consent_status, record_consent
from mailer.consent.models import DIRECT_MARKETING_KEY, ConsentState, Purpose
from mailer.contacts.fields import drop_values_under
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.core.clock import utcnow
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.journeys import operations as journeys
from mailer.privacy.models.requests import PrivacyRequest
from mailer.staff.models.accounts import StaffUser
from mailer.subscriptions.models.lists import Subscription

# How an objection to direct marketing may be lifted: only fresh, explicit actions of the person.
LIFT_WAYS = ("preference-centre", "double-opt-in", "staff-on-instruction")


def ensure_direct_marketing_purpose() -> Purpose:
    """The purpose the sending engine checks: a contact who objected to it gets no marketing at all."""
    purpose = db.session.execute(
        select(Purpose).where(Purpose.key == DIRECT_MARKETING_KEY)
    ).scalar_one_or_none()
    if purpose is None:
        purpose = Purpose(
            key=DIRECT_MARKETING_KEY,
            name="Direct marketing",
            kind="other",
            legal_basis="consent",
            description="Any marketing email from us: newsletters, offers, announcements.",
        )
        db.session.add(purpose)
        db.session.flush()
    return purpose


def objectable_purposes(contact: Contact) -> list[tuple[Purpose, str | None]]:
    """Direct marketing first, then every purpose the contact has a consent state for, with that state."""
    dm = ensure_direct_marketing_purpose()
    rows = db.session.execute(select(ConsentState).where(ConsentState.contact_id == contact.id)).scalars()
    states = {row.purpose_id: row for row in rows}
    result = [(dm, states[dm.id].status if dm.id in states else None)]
    for row in sorted(states.values(), key=lambda r: r.purpose.name):
        if row.purpose_id != dm.id:
            result.append((row.purpose, row.status))
    return result


def _unsubscribe(contact: Contact, purpose: Purpose) -> bool:
    """End the contact's subscription to a list purpose; True when it was still active or pending."""
    sub = db.session.execute(
        select(Subscription).where(
            Subscription.contact_id == contact.id, Subscription.list_id == purpose.list_id
        )
    ).scalar_one_or_none()
    if sub is None or sub.status == "unsubscribed":
        return False
    sub.status, sub.unsubscribed_at = "unsubscribed", utcnow()
    return True


def object_to(
    contact: Contact, purposes: list[Purpose], ctx: RequestContext, request: PrivacyRequest | None = None
) -> list[str]:
    """Record an objection to each purpose; returns the names of what stopped. The caller commits."""
    if contact.status == ContactStatus.ERASED:
        raise PrivacyError("This contact was erased; nothing is processed any more.")
    if not purposes:
        raise PrivacyError("Choose what you object to.")
    details = {"request": request.public_id} if request is not None else {}
    stopped: list[str] = []
    for purpose in purposes:
        if consent_status(contact, purpose) == "objected":
            continue
        if purpose.kind == "list":
            _unsubscribe(contact, purpose)
        record_consent(contact, purpose, "objected", ctx, details=details)
        drop_values_under(contact, purpose)
        stopped.append(purpose.name)
        if purpose.key == DIRECT_MARKETING_KEY:
            stopped.extend(_stop_all_marketing(contact, ctx, details))
            journeys.leave_all(contact.id, "objected")
    return stopped


def _stop_all_marketing(contact: Contact, ctx: RequestContext, details: dict) -> list[str]:
    """Art. 21(3): every list subscription and every tracking consent ends with the objection."""
    names = []
    why = {**details, "because": "objection to direct marketing"}
    subs = (
        db.session.execute(
            select(Subscription).where(
                Subscription.contact_id == contact.id, Subscription.status != "unsubscribed"
            )
        )
        .scalars()
        .all()
    )
    for sub in subs:
        purpose = sub.mailing_list.purpose
        if purpose is not None and _unsubscribe(contact, purpose):
            if consent_status(contact, purpose) in ("granted", "pending"):
                record_consent(contact, purpose, "withdrawn", ctx, details=why)
            names.append(purpose.name)
    tracking = (
        db.session.execute(
            select(Purpose)
            .join(ConsentState, ConsentState.purpose_id == Purpose.id)
            .where(
                ConsentState.contact_id == contact.id,
                ConsentState.status.in_(("granted", "pending")),
                Purpose.kind.in_(("tracking_open", "tracking_click")),
            )
        )
        .scalars()
        .all()
    )
    for purpose in tracking:
        record_consent(contact, purpose, "withdrawn", ctx, details=why)
        names.append(purpose.name)
    return names


def has_objected_to_marketing(contact: Contact) -> bool:
    """True once the contact objected to direct marketing."""
    purpose = db.session.execute(
        select(Purpose).where(Purpose.key == DIRECT_MARKETING_KEY)
    ).scalar_one_or_none()
    return purpose is not None and consent_status(contact, purpose) == "objected"


def lift_marketing_objection(
    contact: Contact,
    ctx: RequestContext,
    way: str,
    *,
    notice=None,
    actor: StaffUser | None = None,
    reason: str = "",
    ip: str | None = None,
    request: PrivacyRequest | None = None,
) -> bool:
    """The person wants marketing again: the objection to direct marketing ends with one ledger event.

    Until this runs the objection stays absolute. Nothing is re-subscribed: lists ended by the objection come
    back only when the person ticks them again. A staff member needs the person's instruction and says so
    (audited). Returns False when there was no objection to lift. The caller commits.
    """
    if way not in LIFT_WAYS:
        raise ValueError(f"unknown way to lift an objection: {way!r}")
    if contact.status == ContactStatus.ERASED:
        raise PrivacyError("This contact was erased; nothing is processed any more.")
    if contact.status == ContactStatus.RESTRICTED:
        raise PrivacyError("This contact is restricted (Art. 18): lift the restriction first.")
    if not has_objected_to_marketing(contact):
        return False
    reason = " ".join((reason or "").split())
    if actor is not None and len(reason) < 10:
        raise PrivacyError("Say how and when the person asked for marketing again (at least a few words).")
    details = {
        "lifts": "objection",
        "way": way,
        **({"request": request.public_id} if request is not None else {}),
    }
    record_consent(contact, ensure_direct_marketing_purpose(), "granted", ctx, notice=notice, details=details)
    if actor is not None:
        audit.record(
            "contact.objection_lift",
            "contact",
            contact.public_id,
            {**details, "reason": reason[:500]},
            actor=actor,
            ip=ip,
        )
    return True
