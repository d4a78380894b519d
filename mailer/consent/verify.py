"""Proving the ledger intact: the whole chain, or only what was appended since the last proven checkpoint.

The rule is chain.py's (the same hashes). On PostgreSQL the walk proves spans of events in single statements,
several at once on one snapshot (walk_sql.py); elsewhere it reads plain rows from a server-side cursor and
checks them in Python (walk.py). A full run that succeeds stores a checkpoint (the last event it proved and
its hash); an incremental run starts from the newest checkpoint whose event is still stored with that hash and
walks only the events after it. An incremental run cannot see an edit of an event before its checkpoint: run
the full verification too, on a slower schedule.
"""

import os

from sqlalchemy import select

from mailer.consent import chain
from mailer.consent.models import LedgerCheckpoint
from mailer.consent.walk import ChainReport, Progress, events, walk_rows
from mailer.consent.walk_sql import walk_spans
from mailer.core.extensions import db

__all__ = ["ChainReport", "default_workers", "verify_chain", "verify_since_checkpoint"]


def default_workers() -> int:
    """Spans proven at once on PostgreSQL: one per CPU, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


def _walk(after_id: int, previous: str, progress: Progress, workers: int | None) -> ChainReport:
    """Check every event after `after_id` in id order, the first linking to `previous`."""
    if db.engine.dialect.name == "postgresql":
        return walk_spans(db.engine, after_id, previous, progress, workers or default_workers())
    return walk_rows(db.session.connection(), after_id, previous, progress)


def _checkpoint(report: ChainReport, since: int) -> None:
    """Remember the newest proven event (when there is one) for the next incremental run: the event the walk
    ended on, not the newest now (events appended during the walk were not proven). The walk agreed with the
    ledger head, which names that event; its stored hash must be the one proven (hashes are not indexed:
    migration 0066)."""
    newest = report.proven_event_id
    if (
        newest > since
        and report.proven_hash
        == db.session.execute(select(events.c.hash).where(events.c.id == newest)).scalar()
    ):
        db.session.add(LedgerCheckpoint(event_id=newest, hash=report.proven_hash, checked=report.checked))
    db.session.commit()


def verify_chain(
    progress: Progress = None, checkpoint: bool = False, workers: int | None = None
) -> ChainReport:
    """Walk the whole ledger in id order and prove every link and every hash; with `checkpoint`, a success
    is stored as the starting point of the next incremental run. `workers`: spans at once on PostgreSQL."""
    report = _walk(0, chain.GENESIS_HASH, progress, workers)
    if report.ok and checkpoint:
        _checkpoint(report, 0)
    return report


def verify_since_checkpoint(progress: Progress = None, workers: int | None = None) -> ChainReport:
    """Prove only the events appended since the newest checkpoint (a full run when there is none), then
    store a new checkpoint."""
    latest = db.session.execute(
        select(LedgerCheckpoint).order_by(LedgerCheckpoint.event_id.desc()).limit(1)
    ).scalar_one_or_none()
    if latest is None:
        return verify_chain(progress, checkpoint=True, workers=workers)
    stored = db.session.execute(
        select(events.c.hash, events.c.prev_hash).where(events.c.id == latest.event_id)
    ).first()
    if stored is None or stored.hash != latest.hash:
        reason = "the event of the last checkpoint was removed or altered"
        return ChainReport(False, 0, latest.event_id, reason, latest.event_id)
    # The walk starts at the checkpoint's own event, so its content is proven again as well as its hash.
    report = _walk(latest.event_id - 1, stored.prev_hash, progress, workers)
    report.since_event_id = latest.event_id
    if report.ok:
        report.checked -= 1
        _checkpoint(report, latest.event_id)
    return report
