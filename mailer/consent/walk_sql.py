"""The ledger's walk on PostgreSQL: spans of ids, each proven by one statement, several spans at once.

A span's statement recomputes every event's hashed form and personal-data digest in PostgreSQL
(chain.HASHED_FORM_SQL, chain.PII_DIGEST_SQL) and checks each event's link to the one before it; Python only
renders each distinct stored details text once (canonical JSON is Python's). A span's first event must link to
the stored hash of the last event before it, which the span before proves (its content hash is checked there),
so the spans are independent: they run on `workers` connections at once, all reading one exported snapshot
(events appended meanwhile are for the next run), and the whole chain is still checked link by link. The first
event a statement flags is judged row by row (walk.check_rows) from there to its span's end; the earliest
failure is the report, as a walk from the first event to the last would give.
"""

import json
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, func, select, text

from mailer.consent import chain
from mailer.consent.walk import WALK, ChainReport, Progress, Walked, check_rows, events, head_agrees

SPAN = 100_000
_SNAPSHOT_ID = re.compile(r"^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$")
_SPAN_DETAILS = text("SELECT DISTINCT details::text FROM consent_events WHERE id > :low AND id <= :high")
_SPAN_CHECK = text(
    f"""
    WITH known (raw, details_text) AS (
        SELECT * FROM unnest(CAST(:raw AS text[]), CAST(:rendered AS text[]))
    ), span AS (
        SELECT e.*, coalesce(lag(e.hash) OVER (ORDER BY e.id), :previous) AS linked_to,
               {chain.SQL_TEXTS_PLAIN} AS plain
        FROM consent_events e WHERE e.id > :low AND e.id <= :high
    ), checked AS (
        SELECT e.id,
               e.prev_hash = e.linked_to
               AND CASE WHEN e.pii_salt IS NULL
                        THEN coalesce(e.email, '') = '' AND coalesce(e.ip, '') = ''
                             AND coalesce(e.user_agent, '') = ''
                        WHEN e.plain THEN {chain.PII_DIGEST_SQL[0]} = e.pii_digest
                        ELSE {chain.PII_DIGEST_SQL[1]} = e.pii_digest END
               AND encode(sha256(convert_to(
                   CASE WHEN e.plain THEN {chain.HASHED_FORM_SQL[0]} ELSE {chain.HASHED_FORM_SQL[1]} END,
                   'UTF8')), 'hex') = e.hash AS good
        FROM span e LEFT JOIN known ON known.raw = e.details::text
    )
    SELECT count(*) AS events, min(id) FILTER (WHERE good IS NOT TRUE) AS flagged FROM checked
    """
)


def _stored_hash_before(connection: Connection, after_id: int, below: int, previous: str) -> str:
    """The stored hash of the newest event with after_id < id <= below (`previous` when there is none)."""
    found = connection.execute(
        select(events.c.hash)
        .where(events.c.id > after_id, events.c.id <= below)
        .order_by(events.c.id.desc())
        .limit(1)
    ).scalar()
    return found or previous


def check_span(connection: Connection, low: int, high: int, previous: str) -> Walked:
    """Prove the events with low < id <= high, the first linking to `previous`."""
    raw = list(connection.execute(_SPAN_DETAILS, {"low": low, "high": high}).scalars())
    rendered = [chain.stored_details_text(json.loads(stored)) for stored in raw]
    span = connection.execute(
        _SPAN_CHECK, {"raw": raw, "rendered": rendered, "low": low, "high": high, "previous": previous}
    ).one()
    if span.flagged is None:
        return Walked(None, _stored_hash_before(connection, low, high, previous), span.events)
    before = connection.execute(
        select(func.count()).where(events.c.id > low, events.c.id < span.flagged)
    ).scalar_one()
    previous = _stored_hash_before(connection, low, span.flagged - 1, previous)
    rows = connection.execute(
        WALK.where(events.c.id >= span.flagged, events.c.id <= high).execution_options(
            stream_results=True, yield_per=10_000
        )
    )
    return check_rows(rows, previous, before, None)


@contextmanager
def _snapshot_connections(engine: Engine, snapshot: str) -> Iterator[Callable[[], Connection]]:
    """A connection per thread, each in a read-only transaction on the exported `snapshot`."""
    if not _SNAPSHOT_ID.match(snapshot):
        raise ValueError("unexpected snapshot id")
    local, opened = threading.local(), []

    def connection() -> Connection:
        if not hasattr(local, "connection"):
            local.connection = engine.connect().execution_options(isolation_level="REPEATABLE READ")
            opened.append(local.connection)
            local.connection.begin()
            local.connection.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
            local.connection.execute(text("SET TRANSACTION READ ONLY"))
        return local.connection

    try:
        yield connection
    finally:
        for each in opened:
            each.close()


def walk_spans(engine: Engine, after_id: int, previous: str, progress: Progress, workers: int) -> ChainReport:
    """Check every event after `after_id`, the first linking to `previous`, span by span on `workers`
    connections sharing one snapshot."""
    with engine.connect() as main:
        main = main.execution_options(isolation_level="REPEATABLE READ")
        with main.begin():
            snapshot = main.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            newest = main.execute(select(func.max(events.c.id))).scalar() or 0
            spans = [(low, min(low + SPAN, newest)) for low in range(after_id, newest, SPAN)]
            with (
                _snapshot_connections(engine, snapshot) as connection,
                ThreadPoolExecutor(max(1, workers)) as pool,
            ):

                def prove(span: tuple[int, int]) -> Walked:
                    low, high = span
                    own = connection()
                    start = previous if low == after_id else _stored_hash_before(own, after_id, low, previous)
                    return check_span(own, low, high, start)

                checked, last = 0, previous
                for walked in pool.map(prove, spans):
                    if walked.report is not None:
                        pool.shutdown(cancel_futures=True)
                        walked.report.checked += checked
                        return walked.report
                    checked, last = checked + walked.checked, walked.previous
                    if progress is not None:
                        progress(checked)
            return head_agrees(main, Walked(None, last, checked), after_id)
