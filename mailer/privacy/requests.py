"""The privacy-request register and its clock (Art. 12(3)): one month to answer,
extendable once by two more."""

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext
from sqlalchemy import func, select

from mailer.contacts.models.contact import Contact
from mailer.contacts.operations import AddressError, email_hash, find_contact_by_email, normalise_email
from mailer.core.broker import enqueue_after_commit
from mailer.core.clock import utcnow
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.core.security import TokenExpired, TokenInvalid, make_token, read_token
from mailer.privacy.models.requests import (
    OPEN_STATUSES,
    REQUEST_CHANNELS,
    REQUEST_TYPES,
    PrivacyRequest,
    RequestStatus,
)
from mailer.privacy.settings import get_settings, recipients
from mailer.staff.models.accounts import StaffUser

VERIFY_MAX_AGE = 7 * 24 * 3600
TYPE_LABELS = {
    "access": lazy_gettext("Access (Art. 15)"),
    "portability": lazy_gettext("Portability (Art. 20)"),
    "rectification": lazy_gettext("Rectification (Art. 16)"),
    "erasure": lazy_gettext("Erasure (Art. 17)"),
    "restriction": lazy_gettext("Restriction (Art. 18)"),
    "objection": lazy_gettext("Objection (Art. 21)"),
}
# Requests whose outcome must be passed on to recipients (Art. 19).
NOTIFIABLE_TYPES = ("rectification", "erasure", "restriction")


def add_months(day: date, months: int) -> date:
    """The same day `months` later; a day the target month lacks becomes its last day (31 Jan → 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def deadline_after(received_at: datetime, months: int) -> datetime:
    """End of the day `months` calendar months after receipt (Regulation 1182/71 on periods of time)."""
    return datetime.combine(add_months(received_at.date(), months), time.max)


def open_request(
    type_: str,
    channel: str,
    *,
    contact: Contact | None = None,
    email: str | None = None,
    received_at: datetime | None = None,
    details: dict | None = None,
    note: str = "",
    handled_by: StaffUser | None = None,
) -> PrivacyRequest:
    """Log a request in the register (due one month after receipt); the caller commits."""
    if type_ not in REQUEST_TYPES:
        raise PrivacyError(f"The request type must be one of: {', '.join(REQUEST_TYPES)}.")
    if channel not in REQUEST_CHANNELS:
        raise PrivacyError(f"The channel must be one of: {', '.join(REQUEST_CHANNELS)}.")
    subject_hash = contact.email_hash if contact is not None else None
    if contact is None and email:
        try:
            normalised = normalise_email(email)
        except AddressError as exc:
            raise PrivacyError(str(exc)) from None
        contact = find_contact_by_email(normalised)
        subject_hash = email_hash(normalised)
    now = utcnow()
    received_at = received_at or now
    if received_at > now + timedelta(minutes=5):
        raise PrivacyError("The date received cannot be in the future.")
    req = PrivacyRequest(
        type=type_,
        channel=channel,
        contact=contact,
        subject_hash=subject_hash,
        received_at=received_at,
        due_at=deadline_after(received_at, 1),
        details=details or {},
        note=(note or "").strip()[:5000],
        handled_by=handled_by,
        status=RequestStatus.AWAITING_VERIFICATION,
    )
    db.session.add(req)
    db.session.flush()
    return req


def request_by_public_id(public_id: str) -> PrivacyRequest | None:
    return db.session.execute(
        select(PrivacyRequest).where(PrivacyRequest.public_id == public_id)
    ).scalar_one_or_none()


def send_verification(req: PrivacyRequest) -> None:
    """Queue the signed verification link to the address on file (after the caller's commit)."""
    if req.contact is None or not req.contact.email:
        raise PrivacyError(
            "We hold no address for this person, so there is nothing to verify against: "
            "answer that no data is held."
        )
    if req.identity_verified_at is not None:
        raise PrivacyError("This request is already verified.")
    enqueue_after_commit(db.session, "send_privacy_verification", req.id)


def verification_token(req: PrivacyRequest) -> str:
    return make_token("privacy-verify", req.public_id)


@dataclass
class VerifyOutcome:
    """What a verification link leads to."""

    status: str  # pending | verified | expired | invalid
    request: PrivacyRequest | None = None


def check_verification(token: str) -> VerifyOutcome:
    """Resolve a verification link without changing anything (a GET must be safe)."""
    try:
        public_id = read_token("privacy-verify", token, max_age=VERIFY_MAX_AGE)
    except TokenExpired:
        return VerifyOutcome("expired")
    except TokenInvalid:
        return VerifyOutcome("invalid")
    req = request_by_public_id(public_id) if isinstance(public_id, str) else None
    if req is None or req.contact is None:
        return VerifyOutcome("invalid")
    return VerifyOutcome("verified" if req.identity_verified_at else "pending", req)


def mark_verified(req: PrivacyRequest, method: str) -> None:
    """Record that the person proved control of the address on file."""
    req.identity_verified_at = utcnow()
    req.verification_method = method[:40]
    if req.status == RequestStatus.AWAITING_VERIFICATION:
        req.status = RequestStatus.OPEN


def extend(
    req: PrivacyRequest, reason: str, person_told_at: datetime | None, now: datetime | None = None
) -> None:
    """Extend by two further months: only once, with a reason,
    and only if the person is told within the first month."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not req.is_open:
        raise PrivacyError("Only an open request can be extended.")
    if req.extended_until is not None:
        raise PrivacyError(
            "This request was already extended; Art. 12(3) allows one extension of two months."
        )
    if not reason:
        raise PrivacyError("Give the reason for the extension (e.g. the complexity or number of requests).")
    if now > req.due_at:
        raise PrivacyError("The first month has passed: an extension is no longer possible.")
    # Staff record the day the person was told (no time): any day from receipt to the end of the first month.
    if person_told_at is None or not req.received_at.date() <= person_told_at.date() <= req.due_at.date():
        raise PrivacyError(
            "Record when the person was told of the extension; it must be within the first month."
        )
    req.extended_until = deadline_after(req.received_at, 3)
    req.extension_reason, req.person_told_at = reason[:5000], person_told_at


def complete(req: PrivacyRequest, outcome: str, handled_by: StaffUser | None = None) -> None:
    """Close a request with its outcome; corrections, erasures and restrictions list recipients to notify."""
    req.status, req.outcome, req.completed_at = RequestStatus.COMPLETED, outcome[:5000], utcnow()
    if handled_by is not None:
        req.handled_by = handled_by
    if req.type in NOTIFIABLE_TYPES and not req.notifications:
        req.notifications = [
            {
                "recipient": r.public_id,
                "name": r.name,
                "contact": r.contact,
                "status": "pending",
                "notified_at": None,
            }
            for r in recipients()
            if r.notify_changes
        ]


def refuse(req: PrivacyRequest, reason: str, handled_by: StaffUser | None = None) -> None:
    """Refuse (e.g. manifestly unfounded, Art. 12(5)); the reason is recorded for the answer to the person."""
    reason = (reason or "").strip()
    if not reason:
        raise PrivacyError(
            "Give the reason for refusing; the person must be told it and their right to complain."
        )
    if not req.is_open:
        raise PrivacyError("This request is already closed.")
    req.status, req.outcome, req.completed_at = RequestStatus.REFUSED, reason[:5000], utcnow()
    req.handled_by = handled_by or req.handled_by


def mark_notified(req: PrivacyRequest, recipient_public_id: str, by: str) -> None:
    """Record that one recipient was told about the change (Art. 19)."""
    entries = [dict(e) for e in req.notifications or []]
    for entry in entries:
        if entry["recipient"] == recipient_public_id:
            entry.update(status="notified", notified_at=utcnow().isoformat(timespec="seconds"), by=by)
            req.notifications = entries
            return
    raise PrivacyError("That recipient is not on this request's notification list.")


def record_operator_request(
    type_: str,
    contact: Contact,
    channel: str,
    outcome: str,
    details: dict | None = None,
    handled_by: StaffUser | None = None,
    method: str = "operator",
) -> PrivacyRequest:
    """A request run directly by an operator (CLI, admin action): registered,
    verified by the operator, completed."""
    req = open_request(type_, channel, contact=contact, details=details, handled_by=handled_by)
    mark_verified(req, method)
    complete(req, outcome, handled_by)
    return req


@dataclass
class RegisterCounts:
    open: int
    due_soon: int
    overdue: int
    awaiting_verification: int


def _deadline_column():
    return func.coalesce(PrivacyRequest.extended_until, PrivacyRequest.due_at)


def register_counts(now: datetime | None = None) -> RegisterCounts:
    """Open, due-soon and overdue requests for the dashboard."""
    now = now or utcnow()
    soon = now + timedelta(days=get_settings().reminder_days)
    base = select(func.count()).select_from(PrivacyRequest).where(PrivacyRequest.status.in_(OPEN_STATUSES))
    count = lambda q: db.session.execute(q).scalar_one()  # noqa: E731
    return RegisterCounts(
        open=count(base),
        due_soon=count(base.where(_deadline_column() >= now, _deadline_column() <= soon)),
        overdue=count(base.where(_deadline_column() < now)),
        awaiting_verification=count(base.where(PrivacyRequest.status == RequestStatus.AWAITING_VERIFICATION)),
    )


def list_requests(
    status: str = "",
    type_: str = "",
    when: str = "",
    now: datetime | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[PrivacyRequest], int]:
    """The register, filtered by status (open/closed/…), type and urgency
    (due_soon/overdue); soonest first."""
    now = now or utcnow()
    query = select(PrivacyRequest)
    if status == "open":
        query = query.where(PrivacyRequest.status.in_(OPEN_STATUSES))
    elif status == "closed":
        query = query.where(PrivacyRequest.status.not_in(OPEN_STATUSES))
    elif status:
        query = query.where(PrivacyRequest.status == status)
    if type_:
        query = query.where(PrivacyRequest.type == type_)
    if when == "overdue":
        query = query.where(PrivacyRequest.status.in_(OPEN_STATUSES), _deadline_column() < now)
    elif when == "due_soon":
        soon = now + timedelta(days=get_settings().reminder_days)
        query = query.where(
            PrivacyRequest.status.in_(OPEN_STATUSES), _deadline_column() >= now, _deadline_column() <= soon
        )
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = (
        db.session.execute(
            query.order_by(
                PrivacyRequest.status.in_(OPEN_STATUSES).desc(), _deadline_column(), PrivacyRequest.id
            )
            .limit(per_page)
            .offset((max(1, page) - 1) * per_page)
        )
        .scalars()
        .all()
    )
    return list(rows), total


def requests_for(contact: Contact) -> list[PrivacyRequest]:
    """Every request of a contact, newest first."""
    query = (
        select(PrivacyRequest)
        .where(PrivacyRequest.contact_id == contact.id)
        .order_by(PrivacyRequest.id.desc())
    )
    return list(db.session.execute(query).scalars())


def due_for_reminder(now: datetime | None = None) -> list[PrivacyRequest]:
    """Open requests within the warning window (or overdue) not reminded about in the last day."""
    now = now or utcnow()
    soon = now + timedelta(days=get_settings().reminder_days)
    query = (
        select(PrivacyRequest)
        .where(
            PrivacyRequest.status.in_(OPEN_STATUSES),
            _deadline_column() <= soon,
            (PrivacyRequest.last_reminded_at.is_(None))
            | (PrivacyRequest.last_reminded_at < now - timedelta(hours=23)),
        )
        .order_by(_deadline_column())
    )
    return list(db.session.execute(query).scalars())
