"""Proving the ledger intact: the whole chain, or only what was appended since the last proven checkpoint.

The rule is chain.py's (the same hashes); the walk reads plain rows from a server-side cursor in chunks (no
ORM objects) and builds each hashed form directly (chain.stored_hashed_form). A full run that succeeds
stores a checkpoint (the last event and its hash); an incremental run starts from the newest checkpoint whose
event is still stored with that hash and walks only the events after it. An incremental run cannot see an
edit of an event before its checkpoint: run the full verification too, on a slower schedule.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from mailer.consent import chain
from mailer.consent.models import ConsentEvent, LedgerCheckpoint, LedgerHead
from mailer.core.extensions import db

CHUNK = 20_000
PROGRESS_EVERY = 250_000
BROKEN_LINK = "link to the previous event is broken (a row was removed or reordered)"


@dataclass
class ChainReport:
    """Outcome of verifying the ledger."""

    ok: bool
    checked: int
    bad_event_id: int | None = None
    reason: str = ""
    since_event_id: int = 0  # 0 for a full run; else the checkpoint an incremental run started after


_events = ConsentEvent.__table__
_WALK = select(
    _events.c.id,
    _events.c.contact_id,
    _events.c.purpose_id,
    _events.c.action,
    _events.c.source,
    _events.c.notice_id,
    _events.c.email,
    _events.c.ip,
    _events.c.user_agent,
    _events.c.details,
    _events.c.created_at,
    _events.c.pii_salt,
    _events.c.pii_digest,
    _events.c.prev_hash,
    _events.c.hash,
).order_by(_events.c.id)


def _walk(after_id: int, previous: str, progress: Callable[[int], None] | None) -> ChainReport:
    """Check every event after `after_id` in id order, the first linking to `previous`."""
    checked = 0
    sha256, pii_digest, hashed = hashlib.sha256, chain.pii_digest, chain.stored_hashed_form
    query = _WALK.where(_events.c.id > after_id).execution_options(stream_results=True, yield_per=CHUNK)
    for row in db.session.execute(query):
        (event_id, contact_id, purpose_id, action, source, notice_id, email, ip, user_agent, details,
         created_at, salt, digest, prev_hash, event_hash) = row  # fmt: skip
        if prev_hash != previous:
            return ChainReport(
                False,
                checked,
                event_id,
                "link to the previous event is broken (a row was removed or reordered)",
            )
        if salt is not None and pii_digest(salt, email, ip, user_agent) != digest:
            return ChainReport(False, checked, event_id, "personal fields were altered")
        if salt is None and (email or ip or user_agent):
            return ChainReport(False, checked, event_id, "personal fields were altered")
        form = hashed(
            action, contact_id, created_at, details, notice_id, digest, prev_hash, purpose_id, source
        )
        if sha256(form).hexdigest() != event_hash:
            return ChainReport(False, checked, event_id, "event content was altered")
        previous = event_hash
        checked += 1
        if progress is not None and checked % PROGRESS_EVERY == 0:
            progress(checked)
    head = db.session.get(LedgerHead, 1)
    if head is not None and head.last_hash != previous:
        return ChainReport(False, checked, head.last_event_id, "the newest events were removed")
    if head is None and (checked or after_id):
        return ChainReport(False, checked, None, "ledger head is missing")
    return ChainReport(True, checked)


def _checkpoint(report: ChainReport, since: int) -> None:
    """Remember the newest proven event (when there is one) for the next incremental run."""
    newest = db.session.execute(
        select(_events.c.id, _events.c.hash).order_by(_events.c.id.desc()).limit(1)
    ).first()
    if newest is not None and newest.id > since:
        db.session.add(LedgerCheckpoint(event_id=newest.id, hash=newest.hash, checked=report.checked))
    db.session.commit()


def verify_chain(progress: Callable[[int], None] | None = None, checkpoint: bool = False) -> ChainReport:
    """Walk the whole ledger in id order and prove every link and every hash; with `checkpoint`, a success
    is stored as the starting point of the next incremental run."""
    report = _walk(0, chain.GENESIS_HASH, progress)
    if report.ok and checkpoint:
        _checkpoint(report, 0)
    return report


def verify_since_checkpoint(progress: Callable[[int], None] | None = None) -> ChainReport:
    """Prove only the events appended since the newest checkpoint (a full run when there is none), then
    store a new checkpoint."""
    latest = db.session.execute(
        select(LedgerCheckpoint).order_by(LedgerCheckpoint.event_id.desc()).limit(1)
    ).scalar_one_or_none()
    if latest is None:
        return verify_chain(progress, checkpoint=True)
    stored = db.session.execute(
        select(_events.c.hash, _events.c.prev_hash).where(_events.c.id == latest.event_id)
    ).first()
    if stored is None or stored.hash != latest.hash:
        reason = "the event of the last checkpoint was removed or altered"
        return ChainReport(False, 0, latest.event_id, reason, latest.event_id)
    # The walk starts at the checkpoint's own event, so its content is proven again as well as its hash.
    report = _walk(latest.event_id - 1, stored.prev_hash, progress)
    report.since_event_id = latest.event_id
    if report.ok:
        report.checked -= 1
        _checkpoint(report, latest.event_id)
    return report
