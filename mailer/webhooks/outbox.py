"""Writing events into the outbox: one row per event and one delivery per subscribed endpoint.

Two sources, both durable. Campaigns, journeys, bounces and contact edits announce their events through
core/domain_events.py in the transaction of the change (`record_events`). Consent and subscription changes and
erasures are read from the consent ledger itself (`scan_ledger`): every such change, from any door and by any
path (a form, an import's COPY, PostgreSQL's leave_lists function), is one ledger row, and rows are committed
in id order under the ledger's head lock, so a cursor over the ids misses none and needs no hook there.
"""

import secrets
from collections.abc import Sequence

from sqlalchemy import func, insert, select, update

from mailer.consent.models import ConsentEvent, Purpose
from mailer.core.broker import enqueue_coalesced_after_commit
from mailer.core.domain_events import DomainEvent
from mailer.core.extensions import db
from mailer.webhooks.models import (
    DeliveryStatus,
    WebhookCursor,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

DISPATCH_ACTOR = "dispatch_webhooks"
LEDGER_CURSOR = "consent_ledger"
LEDGER_BATCH = 2000

_cursors = WebhookCursor.__table__
_events = WebhookEvent.__table__
_deliveries = WebhookDelivery.__table__


def new_message_id() -> str:
    """A webhook-id: unique per event, the same on every retry, so receivers can drop duplicates."""
    return "msg_" + secrets.token_urlsafe(18)


def subscribers(connection, types: set[str]) -> dict[str, list[int]]:
    """Active endpoints per event type among `types` (one small query)."""
    wanted: dict[str, list[int]] = {}
    rows = connection.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.events).where(WebhookEndpoint.active.is_(True))
    )
    for endpoint_id, events in rows:
        for event_type in set(events or ()) & types:
            wanted.setdefault(event_type, []).append(endpoint_id)
    return wanted


def write_events(connection, events: Sequence[DomainEvent], endpoint_ids: list[int] | None = None) -> int:
    """Insert the events some active endpoint subscribes to (or all, to `endpoint_ids`) and their deliveries.

    Returns how many deliveries were created. The caller's transaction commits them.
    """
    if endpoint_ids is not None:
        wanted = {event.type: endpoint_ids for event in events}
    else:
        wanted = subscribers(connection, {event.type for event in events})
    kept = [event for event in events if wanted.get(event.type)]
    if not kept:
        return 0
    rows = [
        {
            "message_id": new_message_id(),
            "type": event.type,
            "contact_id": event.contact_id,
            "refs": event.refs,
            "occurred_at": event.occurred_at,
        }
        for event in kept
    ]
    ids = connection.execute(
        insert(_events).returning(_events.c.id, sort_by_parameter_order=True), rows
    ).scalars()
    deliveries = [
        {
            "event_id": event_id,
            "endpoint_id": endpoint_id,
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": event.occurred_at,
            "last_error": "",
            "created_at": event.occurred_at,
        }
        for event_id, event in zip(ids, kept, strict=True)
        for endpoint_id in wanted[event.type]
    ]
    connection.execute(insert(_deliveries), deliveries)
    enqueue_coalesced_after_commit(db.session, DISPATCH_ACTOR)
    return len(deliveries)


def record_events(connection, events: Sequence[DomainEvent]) -> None:
    """The listener the app factory connects to core/domain_events.py."""
    write_events(connection, events)


# ledger action -> (event for any purpose, event for a list's purpose); None: not announced
_LEDGER_EVENTS: dict[str, tuple[str | None, str | None]] = {
    "requested": (None, "subscription.requested"),
    "granted": ("consent.granted", "subscription.confirmed"),
    "confirmed": ("consent.granted", "subscription.confirmed"),
    "withdrawn": ("consent.withdrawn", "subscription.ended"),
    "objected": ("consent.withdrawn", "subscription.ended"),
    "expired": (None, "subscription.ended"),
}


def ledger_events(rows: Sequence, list_purposes: set[int]) -> list[DomainEvent]:
    """The webhook events a run of ledger rows (id, contact, purpose, action, source, time) stands for."""
    events: list[DomainEvent] = []
    for row in rows:
        refs = {"action": row.action, "source": (row.source or "").split(":", 1)[0]}
        if row.action == "erased":
            events.append(DomainEvent("contact.erased", row.contact_id, {}, row.created_at))
            continue
        general, for_list = _LEDGER_EVENTS.get(row.action, (None, None))
        if row.purpose_id is not None:
            refs["purpose_id"] = row.purpose_id
        if general:
            events.append(DomainEvent(general, row.contact_id, refs, row.created_at))
        if for_list and row.purpose_id in list_purposes:
            events.append(DomainEvent(for_list, row.contact_id, refs, row.created_at))
    return events


def _lock_ledger_position(connection) -> int | None:
    """The cursor, locked for this transaction by a no-op UPDATE (a row lock on PostgreSQL, the write lock on
    SQLite), so two scans at once cannot both turn the same rows into events."""
    return connection.execute(
        update(_cursors)
        .where(_cursors.c.name == LEDGER_CURSOR)
        .values(last_id=_cursors.c.last_id)
        .returning(_cursors.c.last_id)
    ).scalar()


def start_ledger_cursor(connection) -> None:
    """Start reading the ledger at its end, unless reading has started (history is not replayed)."""
    if _lock_ledger_position(connection) is None:
        newest = connection.execute(select(func.coalesce(func.max(ConsentEvent.id), 0))).scalar_one()
        connection.execute(insert(_cursors).values(name=LEDGER_CURSOR, last_id=newest))


def scan_ledger(limit: int = LEDGER_BATCH) -> int:
    """Turn ledger rows appended since the last scan into events; returns the rows read. The caller commits.

    The first scan (or the first endpoint) starts at the ledger's end: history is not replayed to endpoints.
    """
    connection = db.session.connection()
    last = _lock_ledger_position(connection)
    if last is None:
        start_ledger_cursor(connection)
        return 0
    rows = connection.execute(
        select(
            ConsentEvent.id,
            ConsentEvent.contact_id,
            ConsentEvent.purpose_id,
            ConsentEvent.action,
            ConsentEvent.source,
            ConsentEvent.created_at,
        )
        .where(ConsentEvent.id > last)
        .order_by(ConsentEvent.id)
        .limit(limit)
    ).all()
    if not rows:
        return 0
    purpose_ids = {row.purpose_id for row in rows if row.purpose_id is not None}
    list_purposes = (
        set(
            connection.execute(
                select(Purpose.id).where(Purpose.id.in_(purpose_ids), Purpose.list_id.is_not(None))
            ).scalars()
        )
        if purpose_ids
        else set()
    )
    write_events(connection, ledger_events(rows, list_purposes))
    connection.execute(update(_cursors).where(_cursors.c.name == LEDGER_CURSOR).values(last_id=rows[-1].id))
    return len(rows)
