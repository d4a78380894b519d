"""The consent ledger: append events, derive current consent, prove the chain intact."""

import functools
import itertools
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import make_transient_to_detached, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from mailer.consent import chain
from mailer.consent.models import ACTION_STATES, ConsentEvent, ConsentState, LedgerHead, Notice, Purpose
from mailer.consent.verify import ChainReport, verify_chain
from mailer.contacts.models.contact import Contact
from mailer.core import metrics
from mailer.core.bulk import copy_rows, insert_rows
from mailer.core.clock import utcnow
from mailer.core.extensions import db

__all__ = ["ChainReport", "verify_chain"]  # moved to consent/verify.py; still importable from here


@dataclass(frozen=True)
class RequestContext:
    """Where a change came from: the door (source), the person's IP and user agent."""

    source: str
    ip: str | None = None
    user_agent: str | None = None


def _event_hash(ev: ConsentEvent) -> str:
    """Hash of a stored event (verification recomputes it)."""
    return chain.event_hash({key: getattr(ev, key) for key in chain.EVENT_HASH_FIELDS})


class EventDraft(NamedTuple):
    """One ledger event to append: who, what for, what happened, through which door, against which notice.

    A named tuple rather than a frozen dataclass: a batch of an import makes thousands, and a frozen
    dataclass's constructor costs about four times as much."""

    contact_id: int
    email: str | None
    purpose_id: int | None
    action: str
    ctx: RequestContext
    notice_id: int | None = None
    details: dict | None = None


_events = ConsentEvent.__table__
_head = LedgerHead.__table__
_states = ConsentState.__table__


# Built once: constructing a statement costs more than running it.
_LOCK_HEAD = (
    update(_head)
    .where(_head.c.id == 1)
    .values(last_event_id=_head.c.last_event_id)
    .returning(_head.c.last_hash)
)
_MOVE_HEAD = (
    update(_head)
    .where(_head.c.id == 1)
    .values(last_hash=bindparam("hash"), last_event_id=bindparam("event_id"))
)
_EVENT_COLUMNS = [column.name for column in _events.columns]
_INSERT_ONE = insert(_events).returning(_events.c.id)
_INSERT_MANY = insert(_events).returning(_events.c.id, sort_by_parameter_order=True)


@functools.cache
def _upsert_states(dialect: str):
    """INSERT ... ON CONFLICT DO UPDATE of consent states, for PostgreSQL or SQLite."""
    upsert = postgresql_insert(_states) if dialect == "postgresql" else sqlite_insert(_states)
    return upsert.on_conflict_do_update(
        index_elements=[_states.c.contact_id, _states.c.purpose_id],
        set_={
            "status": upsert.excluded.status,
            "event_id": upsert.excluded.event_id,
            "updated_at": upsert.excluded.updated_at,
        },
    )


def draft_row(draft: EventDraft, created_at: datetime | None = None, salt: str | None = None) -> dict:
    """An event's row before it is digested and chained: everything but pii_digest, prev_hash and hash.
    `created_at` and `salt` (32 hex digits) when the caller drafts many at once (draft_rows)."""
    if draft.action not in ACTION_STATES:
        raise ValueError(f"unknown consent action {draft.action!r}")
    ctx = draft.ctx
    return {
        "contact_id": draft.contact_id,
        "purpose_id": draft.purpose_id,
        "action": draft.action,
        "source": ctx.source[:120],
        "notice_id": draft.notice_id,
        "email": draft.email,
        "ip": (ctx.ip or None) and ctx.ip[:45],
        "user_agent": (ctx.user_agent or None) and ctx.user_agent[:512],
        "details": draft.details or {},
        "created_at": created_at or utcnow(),
        "pii_salt": salt or secrets.token_hex(16),
    }


def draft_rows(drafts: list[EventDraft]) -> list[dict]:
    """draft_row of each draft, drafted at one moment (they are appended under one lock of the head, so the
    chain's times still never go back) and salted from one read of the system's randomness: per event, a
    clock read and a random read cost more than the rest of its drafting (a batch of an import has
    thousands)."""
    now = utcnow()
    salts = secrets.token_hex(16 * len(drafts))
    return [draft_row(draft, now, salts[32 * n : 32 * n + 32]) for n, draft in enumerate(drafts)]


def database_event(draft: EventDraft) -> dict:
    """An event for the database to complete and append (PostgreSQL's leave_lists): its own fields, its hashed
    form in pieces around chain.DATABASE_FILLED, and the digested text of its personal fields after the
    address."""
    return chain.database_fields(draft_row(draft))


def _number(rows: list[dict], ids: list[int]) -> None:
    """Give the chained rows their ids; the chain is verified in id order, so the ids must ascend."""
    if len(ids) < len(rows) or any(later <= earlier for earlier, later in itertools.pairwise(ids)):
        raise RuntimeError("ledger events were numbered out of order")
    for row, event_id in zip(rows, ids, strict=False):  # ids beyond the rows are never read
        row["id"] = event_id


def _state_rows(rows: list[dict]) -> list[dict]:
    """The consent states the rows leave behind: the newest event of a contact and purpose decides."""
    states = {}
    for row in rows:
        state = ACTION_STATES[row["action"]]
        if row["purpose_id"] is not None and state is not None:
            states[(row["contact_id"], row["purpose_id"])] = {
                "contact_id": row["contact_id"],
                "purpose_id": row["purpose_id"],
                "status": state,
                "event_id": row["id"],
                "updated_at": row["created_at"],
            }
    return list(states.values())


def append_events(
    connection, drafts: list[EventDraft], new_contacts: frozenset[int] | set[int] = frozenset()
) -> list[dict]:
    """Append events in order and update their consent states, in the connection's transaction; the caller
    commits.

    Core statements only: the head row is locked and read by one UPDATE ... RETURNING (so SQLite and
    PostgreSQL both serialise appends there and the chain never forks), the events go in with one INSERT, then
    the head and the states are written. Several drafts share the one lock (group commit). `new_contacts`
    are contacts this transaction created (no consent state of theirs can exist yet: on PostgreSQL their
    states go in by plain COPY). Returns the inserted rows with ids.
    """
    if not drafts:
        return []
    previous = _lock_head(connection)  # drafted under the lock, so event times ascend with the chain
    rows = chain.link(draft_rows(drafts), previous)
    return _insert_linked(connection, rows, new_contacts)


def append_rows(connection, rows: list[dict]) -> list[dict]:
    """append_events for rows already drafted (draft_row): chained after the head, inserted, states
    updated."""
    if not rows:
        return []
    return _insert_linked(connection, chain.link(rows, _lock_head(connection)))


def _lock_head(connection) -> str:
    """Lock the ledger head row (creating it for the first event) and return the newest hash."""
    head = connection.execute(_LOCK_HEAD).first()
    if head is None:  # two first appenders at once: one inserts, the other waits for it and then locks it
        upsert = postgresql_insert(_head) if connection.dialect.name == "postgresql" else sqlite_insert(_head)
        connection.execute(
            upsert.values(id=1, last_hash=chain.GENESIS_HASH, last_event_id=0).on_conflict_do_nothing()
        )
        head = connection.execute(_LOCK_HEAD).one()
    return head.last_hash


_EVENT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('consent_events', 'id')) FROM generate_series(1, :n)"
)
_STATES_CONFLICT = (
    "ON CONFLICT (contact_id, purpose_id) DO UPDATE SET status = excluded.status, "
    "event_id = excluded.event_id, updated_at = excluded.updated_at"
)


def _insert_linked(
    connection, rows: list[dict], new_contacts: frozenset[int] | set[int] = frozenset()
) -> list[dict]:
    """Insert chained rows, move the head to the last and write the consent states they leave.

    A group on PostgreSQL takes its ids from the sequence first (under the head lock, so they ascend with the
    chain) and goes in by COPY (core/bulk.py); its states go in through a temporary twin and one INSERT ...
    ON CONFLICT DO UPDATE."""
    bulk = connection.dialect.name == "postgresql" and len(rows) > 1
    if len(rows) == 1:
        ids = [connection.execute(_INSERT_ONE, rows[0]).scalar_one()]
    elif bulk:
        ids = sorted(connection.execute(_EVENT_IDS, {"n": len(rows)}).scalars())
    else:
        ids = connection.execute(_INSERT_MANY, rows).scalars().all()
    _number(rows, ids)
    if bulk:
        copy_rows(connection, _events, rows, _EVENT_COLUMNS)
    connection.execute(_MOVE_HEAD, {"hash": rows[-1]["hash"], "event_id": ids[-1]})
    metrics.ledger_appended(row["action"] for row in rows)
    states = _state_rows(rows)
    if states and bulk:
        copy_rows(connection, _states, [state for state in states if state["contact_id"] in new_contacts])
        others = [state for state in states if state["contact_id"] not in new_contacts]
        insert_rows(connection, _states, others, _STATES_CONFLICT)
    elif states:
        connection.execute(_upsert_states(connection.dialect.name), states)
    return rows


def record_consent(
    contact: Contact,
    purpose: Purpose | None,
    action: str,
    ctx: RequestContext,
    notice: Notice | None = None,
    details: dict | None = None,
) -> ConsentEvent:
    """Append one ledger event and update the derived consent state in the session's transaction; the caller
    commits."""
    if action not in ACTION_STATES:
        raise ValueError(f"unknown consent action {action!r}")
    session = db.session
    session.flush()  # pending rows first (the contact, a new purpose or notice), as before the head lock
    [row] = append_events(
        session.connection(),
        [
            EventDraft(
                contact.id,
                contact.email,
                purpose.id if purpose else None,
                action,
                ctx,
                notice.id if notice else None,
                details,
            )
        ],
    )
    ev = ConsentEvent(**row)
    make_transient_to_detached(ev)  # the stored row, known to the session without another query
    session.add(ev)
    for state in _state_rows([row]):  # the state append_events wrote, if the action sets one
        cached = session.identity_map.get(
            identity_key(ConsentState, (state["contact_id"], state["purpose_id"]))
        )
        if cached is not None:  # a state the session already loaded shows the new value
            for key in ("status", "event_id", "updated_at"):
                set_committed_value(cached, key, state[key])
    return ev


def consent_status(contact: Contact, purpose: Purpose) -> str | None:
    """Current consent of a contact for a purpose: pending, granted, withdrawn, objected, expired or None."""
    row = db.session.get(ConsentState, (contact.id, purpose.id))
    return row.status if row else None


def rebuild_states() -> int:
    """Recompute the consent-state cache from the ledger; returns the number of states written."""
    db.session.execute(delete(ConsentState))
    latest: dict[tuple[int, int], tuple[str, int, datetime]] = {}
    query = select(
        ConsentEvent.contact_id,
        ConsentEvent.purpose_id,
        ConsentEvent.action,
        ConsentEvent.id,
        ConsentEvent.created_at,
    ).order_by(ConsentEvent.id)
    for contact_id, purpose_id, action, event_id, created_at in db.session.execute(query):
        state = ACTION_STATES.get(action)
        if purpose_id is not None and state is not None:
            latest[(contact_id, purpose_id)] = (state, event_id, created_at)
    # updated_at is the deciding event's time, so a rebuild does not restart the retention clock of pending
    # sign-ups.
    for (contact_id, purpose_id), (state, event_id, created_at) in latest.items():
        db.session.add(
            ConsentState(
                contact_id=contact_id,
                purpose_id=purpose_id,
                status=state,
                event_id=event_id,
                updated_at=created_at,
            )
        )
    db.session.commit()
    return len(latest)


def contact_history(contact: Contact) -> list[ConsentEvent]:
    """Every ledger event of a contact, oldest first, with its purpose and notice (every caller shows
    them)."""
    query = (
        select(ConsentEvent)
        .where(ConsentEvent.contact_id == contact.id)
        .order_by(ConsentEvent.id)
        .options(selectinload(ConsentEvent.purpose), selectinload(ConsentEvent.notice))
    )
    return list(db.session.execute(query).scalars())
