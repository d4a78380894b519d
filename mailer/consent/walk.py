"""The ledger's walk row by row: each event's link, personal-data digest and hash checked in Python, in id
order (chain.py's rule, through chain.stored_hashed_form). SQLite's whole verification; PostgreSQL's span
walk (walk_sql.py) hands it any event its statement flags, so the reasons and the last word are this module's.
"""

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Connection, Row, select

from mailer.consent import chain
from mailer.consent.models import ConsentEvent, LedgerHead

CHUNK = 20_000
PROGRESS_EVERY = 250_000
BROKEN_LINK = "link to the previous event is broken (a row was removed or reordered)"
ALTERED_PERSONAL = "personal fields were altered"
ALTERED_CONTENT = "event content was altered"
Progress = Callable[[int], None] | None


@dataclass
class ChainReport:
    """Outcome of verifying the ledger."""

    ok: bool
    checked: int
    bad_event_id: int | None = None
    reason: str = ""
    since_event_id: int = 0  # 0 for a full run; else the checkpoint an incremental run started after
    proven_hash: str = ""  # the hash of the newest event proven (what a checkpoint remembers)
    proven_event_id: int = 0  # that event's id, as the ledger head names it (0: no event proven)


class Walked(NamedTuple):
    """Where a walk stopped: a failure (or None), the hash the next event must link to, events proven."""

    report: ChainReport | None
    previous: str
    checked: int


events = ConsentEvent.__table__
WALK = select(
    events.c.id,
    events.c.contact_id,
    events.c.purpose_id,
    events.c.action,
    events.c.source,
    events.c.notice_id,
    events.c.email,
    events.c.ip,
    events.c.user_agent,
    events.c.details,
    events.c.created_at,
    events.c.pii_salt,
    events.c.pii_digest,
    events.c.prev_hash,
    events.c.hash,
).order_by(events.c.id)


def check_rows(rows: Iterable[Row], previous: str, checked: int, progress: Progress) -> Walked:
    """Check rows as WALK selects them (id order), the first linking to `previous`; stop at the first bad."""
    sha256, pii_digest, hashed = hashlib.sha256, chain.pii_digest, chain.stored_hashed_form
    for row in rows:
        (event_id, contact_id, purpose_id, action, source, notice_id, email, ip, user_agent, details,
         created_at, salt, digest, prev_hash, event_hash) = row  # fmt: skip
        if prev_hash != previous:
            return Walked(ChainReport(False, checked, event_id, BROKEN_LINK), previous, checked)
        if salt is not None and pii_digest(salt, email, ip, user_agent) != digest:
            return Walked(ChainReport(False, checked, event_id, ALTERED_PERSONAL), previous, checked)
        if salt is None and (email or ip or user_agent):
            return Walked(ChainReport(False, checked, event_id, ALTERED_PERSONAL), previous, checked)
        form = hashed(
            action, contact_id, created_at, details, notice_id, digest, prev_hash, purpose_id, source
        )
        if sha256(form).hexdigest() != event_hash:
            return Walked(ChainReport(False, checked, event_id, ALTERED_CONTENT), previous, checked)
        previous = event_hash
        checked += 1
        if progress is not None and checked % PROGRESS_EVERY == 0:
            progress(checked)
    return Walked(None, previous, checked)


def head_agrees(connection: Connection, walked: Walked, after_id: int) -> ChainReport:
    """The walk's end against the ledger head: the newest event must be the head's."""
    head = connection.execute(select(LedgerHead.last_hash, LedgerHead.last_event_id)).first()
    if head is not None and head.last_hash != walked.previous:
        return ChainReport(False, walked.checked, head.last_event_id, "the newest events were removed")
    if head is None and (walked.checked or after_id):
        return ChainReport(False, walked.checked, None, "ledger head is missing")
    newest = head.last_event_id if head is not None else 0
    return ChainReport(True, walked.checked, proven_hash=walked.previous, proven_event_id=newest)


def walk_rows(connection: Connection, after_id: int, previous: str, progress: Progress = None) -> ChainReport:
    """Check every event after `after_id`, the first linking to `previous`, row by row (any database; on
    PostgreSQL bench/ledger_verify.py times the span walk against it)."""
    query = WALK.where(events.c.id > after_id).execution_options(stream_results=True, yield_per=CHUNK)
    walked = check_rows(connection.execute(query), previous, 0, progress)
    return walked.report or head_agrees(connection, walked, after_id)
