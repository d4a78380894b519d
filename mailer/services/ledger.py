"""The consent ledger: append events, derive current consent, prove the chain intact."""
import hashlib
import json
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update

from mailer.clock import utcnow
from mailer.extensions import db
from mailer.models import ConsentEvent, ConsentState, Contact, LedgerHead, Notice, Purpose
from mailer.models.consent import ACTION_STATES

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class RequestContext:
    """Where a change came from: the door (source), the person's IP and user agent."""

    source: str
    ip: str | None = None
    user_agent: str | None = None


def _canonical(data) -> bytes:
    """Deterministic JSON bytes for hashing."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _pii_digest(salt: str, email, ip, user_agent) -> str:
    """Salted digest of the personal columns; stays verifiable after erasure blanks them and the salt."""
    return hashlib.sha256(salt.encode() + _canonical([email, ip, user_agent])).hexdigest()


def _event_hash(ev: ConsentEvent) -> str:
    """Hash of an event's non-personal content, its personal-data digest and its predecessor."""
    body = {
        "contact_id": ev.contact_id,
        "purpose_id": ev.purpose_id,
        "action": ev.action,
        "source": ev.source,
        "notice_id": ev.notice_id,
        "details": ev.details or {},
        "created_at": ev.created_at.isoformat(timespec="microseconds"),
        "pii_digest": ev.pii_digest,
        "prev_hash": ev.prev_hash,
    }
    return hashlib.sha256(_canonical(body)).hexdigest()


def _lock_head() -> LedgerHead:
    """Take the ledger's write lock (an UPDATE first, so SQLite and PostgreSQL both serialise here)."""
    touched = db.session.execute(
        update(LedgerHead).where(LedgerHead.id == 1).values(last_event_id=LedgerHead.last_event_id)
    ).rowcount
    if not touched:
        db.session.add(LedgerHead(id=1, last_hash=GENESIS_HASH, last_event_id=0))
        db.session.flush()
    return db.session.execute(select(LedgerHead).where(LedgerHead.id == 1).with_for_update()).scalar_one()


def record_consent(
    contact: Contact,
    purpose: Purpose | None,
    action: str,
    ctx: RequestContext,
    notice: Notice | None = None,
    details: dict | None = None,
) -> ConsentEvent:
    """Append one ledger event and update the derived consent state; the caller commits."""
    if action not in ACTION_STATES:
        raise ValueError(f"unknown consent action {action!r}")
    head = _lock_head()
    salt = secrets.token_hex(16)
    ev = ConsentEvent(
        contact_id=contact.id,
        purpose_id=purpose.id if purpose else None,
        action=action,
        source=ctx.source[:120],
        notice_id=notice.id if notice else None,
        email=contact.email,
        ip=(ctx.ip or None) and ctx.ip[:45],
        user_agent=(ctx.user_agent or None) and ctx.user_agent[:512],
        details=details or {},
        created_at=utcnow(),
        pii_salt=salt,
        prev_hash=head.last_hash,
    )
    ev.pii_digest = _pii_digest(salt, ev.email, ev.ip, ev.user_agent)
    ev.hash = _event_hash(ev)
    db.session.add(ev)
    db.session.flush()
    head.last_hash = ev.hash
    head.last_event_id = ev.id
    state = ACTION_STATES[action]
    if purpose is not None and state is not None:
        _set_state(contact.id, purpose.id, state, ev.id, ev.created_at)
    return ev


def _set_state(contact_id: int, purpose_id: int, status: str, event_id: int, at) -> None:
    """Upsert the cached consent state for one contact and purpose; `at` is its event's time, as a rebuild sets it."""
    row = db.session.get(ConsentState, (contact_id, purpose_id))
    if row is None:
        db.session.add(ConsentState(contact_id=contact_id, purpose_id=purpose_id, status=status, event_id=event_id,
                                    updated_at=at))
    else:
        row.status, row.event_id, row.updated_at = status, event_id, at


def consent_status(contact: Contact, purpose: Purpose) -> str | None:
    """Current consent of a contact for a purpose: pending, granted, withdrawn, objected, expired or None."""
    row = db.session.get(ConsentState, (contact.id, purpose.id))
    return row.status if row else None


def rebuild_states() -> int:
    """Recompute the consent-state cache from the ledger; returns the number of states written."""
    db.session.execute(delete(ConsentState))
    latest: dict[tuple[int, int], tuple[str, int, object]] = {}
    query = select(ConsentEvent.contact_id, ConsentEvent.purpose_id, ConsentEvent.action, ConsentEvent.id,
                   ConsentEvent.created_at).order_by(ConsentEvent.id)
    for contact_id, purpose_id, action, event_id, created_at in db.session.execute(query):
        state = ACTION_STATES.get(action)
        if purpose_id is not None and state is not None:
            latest[(contact_id, purpose_id)] = (state, event_id, created_at)
    # updated_at is the deciding event's time, so a rebuild does not restart the retention clock of pending sign-ups.
    for (contact_id, purpose_id), (state, event_id, created_at) in latest.items():
        db.session.add(ConsentState(contact_id=contact_id, purpose_id=purpose_id, status=state, event_id=event_id,
                                    updated_at=created_at))
    db.session.commit()
    return len(latest)


@dataclass
class ChainReport:
    """Outcome of verifying the ledger."""

    ok: bool
    checked: int
    bad_event_id: int | None = None
    reason: str = ""


def verify_chain(batch_size: int = 1000) -> ChainReport:
    """Walk the ledger in id order and prove every link and every hash."""
    previous = GENESIS_HASH
    checked = 0
    query = select(ConsentEvent).order_by(ConsentEvent.id).execution_options(yield_per=batch_size)
    for ev in db.session.execute(query).scalars():
        if ev.prev_hash != previous:
            return ChainReport(False, checked, ev.id, "link to the previous event is broken (a row was removed or reordered)")
        if ev.pii_salt is not None and _pii_digest(ev.pii_salt, ev.email, ev.ip, ev.user_agent) != ev.pii_digest:
            return ChainReport(False, checked, ev.id, "personal fields were altered")
        if ev.pii_salt is None and (ev.email or ev.ip or ev.user_agent):
            return ChainReport(False, checked, ev.id, "personal fields were altered")
        if _event_hash(ev) != ev.hash:
            return ChainReport(False, checked, ev.id, "event content was altered")
        previous = ev.hash
        checked += 1
    head = db.session.get(LedgerHead, 1)
    if head is not None and head.last_hash != previous:
        return ChainReport(False, checked, head.last_event_id, "the newest events were removed")
    if head is None and checked:
        return ChainReport(False, checked, None, "ledger head is missing")
    return ChainReport(True, checked)


def contact_history(contact: Contact) -> list[ConsentEvent]:
    """Every ledger event of a contact, oldest first."""
    query = select(ConsentEvent).where(ConsentEvent.contact_id == contact.id).order_by(ConsentEvent.id)
    return list(db.session.execute(query).scalars())
