"""Counter tables: totals that pages show, kept by the database itself as its rows change.

A page over a million contacts cannot count them on every view (a `count(*)` over a million subscriptions is
a second). Each counter table holds signed deltas per group (a list and a status, say) written by triggers on
the counted table in the same transaction as the change, so every writer is covered whatever door or statement
it uses (an import's set-based INSERT, leave_lists() in SQL, a bulk job, erasure, a COPY): PostgreSQL's
triggers are per statement over the transition table (one delta row per group a statement touches), SQLite's
per row. Deltas are only ever inserted, so writers never wait on a hot counter row; reading sums the deltas
per group, and `compact` folds them into one row per group (the scheduler runs it every minute). `recount`
rebuilds a table from the counted rows, for repair (`flask audience recount`), and `drift` says where they
differ.

The triggers are created by migration 0031 (frozen there; delivery_relay_counts' by 0058 and 0064, with
0031's text; consent_event_counts' and list_consent_counts' by 0060); COUNTERS names what each table counts.
Two count something other than a table's rows by its own columns: consent_event_counts groups the ledger's
events by the hour they happened in, and list_consent_counts counts pairs of a confirmed subscription and a
granted consent state of one contact (a list's consent coverage), so their recount is a statement of its own.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, DateTime, Index, SmallInteger, String, column, func, select, table, text
from sqlalchemy.orm import Mapped, mapped_column

from mailer.core.extensions import Model, db


class SubscriptionCount(Model):
    """Deltas of subscriptions per list and status."""

    __tablename__ = "subscription_counts"
    __table_args__ = (Index("ix_subscription_counts_group", "list_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int | None]
    status: Mapped[str | None] = mapped_column(String(20))
    n: Mapped[int] = mapped_column(BigInteger)


class ContactCount(Model):
    """Deltas of contacts per status."""

    __tablename__ = "contact_counts"
    __table_args__ = (Index("ix_contact_counts_group", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str | None] = mapped_column(String(20))
    n: Mapped[int] = mapped_column(BigInteger)


class DeliveryCount(Model):
    """Deltas of deliveries per campaign and status."""

    __tablename__ = "delivery_counts"
    __table_args__ = (Index("ix_delivery_counts_group", "campaign_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None]
    status: Mapped[str | None] = mapped_column(String(20))
    n: Mapped[int] = mapped_column(BigInteger)


class DeliveryRelayCount(Model):
    """Deltas of deliveries per campaign, relay (which one accepted it; "" until one did), status and the
    recipient's tracking consent when it was handed over (Delivery.tracking; None before that)."""

    __tablename__ = "delivery_relay_counts"
    __table_args__ = (Index("ix_delivery_relay_counts_group", "campaign_id", "relay", "status", "tracking"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None]
    relay: Mapped[str | None] = mapped_column(String(63))
    status: Mapped[str | None] = mapped_column(String(20))
    tracking: Mapped[int | None] = mapped_column(SmallInteger)
    n: Mapped[int] = mapped_column(BigInteger)


class ConsentEventCount(Model):
    """Deltas of ledger events per hour (UTC, truncated), action and purpose."""

    __tablename__ = "consent_event_counts"
    __table_args__ = (
        Index("ix_consent_event_counts_group", "action", "hour", "purpose_id"),
        Index("ix_consent_event_counts_purpose", "purpose_id", "hour"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hour: Mapped[datetime | None] = mapped_column(DateTime)
    action: Mapped[str | None] = mapped_column(String(30))
    purpose_id: Mapped[int | None]
    n: Mapped[int] = mapped_column(BigInteger)


class ListConsentCount(Model):
    """Deltas of a list's confirmed subscribers whose consent for a purpose is granted."""

    __tablename__ = "list_consent_counts"
    __table_args__ = (Index("ix_list_consent_counts_group", "list_id", "purpose_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int | None]
    purpose_id: Mapped[int | None]
    n: Mapped[int] = mapped_column(BigInteger)


@dataclass(frozen=True)
class Counter:
    """A counter table: the table(s) it counts and the columns it groups by; `recounted_by` is the statement
    that counts the rows per group (per dialect) when it is not a plain count of `counted` by `columns`."""

    table: str
    counted: str
    columns: tuple[str, ...]
    recounted_by: tuple[tuple[str, str], ...] = ()


_HOUR = {
    "postgresql": "date_trunc('hour', created_at)",
    # SQLite stores a DateTime as SQLAlchemy writes it, 'YYYY-MM-DD HH:MM:SS.ffffff': so does its trigger
    "sqlite": "strftime('%Y-%m-%d %H:00:00.000000', created_at)",
}
_PAIRS = (
    "SELECT s.list_id, c.purpose_id, count(*) FROM subscriptions s JOIN consent_states c "
    "ON c.contact_id = s.contact_id WHERE s.status = 'confirmed' AND c.status = 'granted' GROUP BY 1, 2"
)


COUNTERS = {
    counter.table: counter
    for counter in (
        Counter("subscription_counts", "subscriptions", ("list_id", "status")),
        Counter("contact_counts", "contacts", ("status",)),
        Counter("delivery_counts", "deliveries", ("campaign_id", "status")),
        Counter("delivery_relay_counts", "deliveries", ("campaign_id", "relay", "status", "tracking")),
        Counter(
            "consent_event_counts",
            "consent_events",
            ("hour", "action", "purpose_id"),
            tuple(
                (dialect, f"SELECT {hour}, action, purpose_id, count(*) FROM consent_events GROUP BY 1, 2, 3")
                for dialect, hour in _HOUR.items()
            ),
        ),
        Counter(
            "list_consent_counts",
            "subscriptions, consent_states",
            ("list_id", "purpose_id"),
            (("postgresql", _PAIRS), ("sqlite", _PAIRS)),
        ),
    )
}


def totals(table: str, **where: int | str) -> dict[tuple, int]:
    """{(group values...): count} of a counter table; given values of some columns (say campaign_id=7), only
    those groups, keyed by the other columns. Groups whose count is 0 are left out."""
    counter = COUNTERS[table]
    columns = ", ".join(name for name in counter.columns if name not in where)
    condition = " AND ".join(f"{name} = :{name}" for name in where) or "1 = 1"
    rows = db.session.execute(
        text(
            f"SELECT {columns}, sum(n) FROM {counter.table} WHERE {condition} GROUP BY {columns} "
            "HAVING sum(n) <> 0"
        ),
        where,
    )
    return {tuple(row[:-1]): int(row[-1]) for row in rows}


def compact(table: str) -> None:
    """Fold a counter table's deltas into one row per group, in one statement on PostgreSQL (deltas written
    meanwhile by other transactions are not deleted, so none is lost); the caller commits."""
    counter = COUNTERS[table]
    columns = ", ".join(counter.columns)
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            text(
                f"WITH gone AS (DELETE FROM {counter.table} RETURNING {columns}, n) "
                f"INSERT INTO {counter.table} ({columns}, n) SELECT {columns}, sum(n) FROM gone "
                f"GROUP BY {columns} HAVING sum(n) <> 0"
            )
        )
        return
    # SQLite: one writer at a time, so reading and replacing in one transaction is exact.
    rows = db.session.execute(
        text(f"SELECT {columns}, sum(n) FROM {counter.table} GROUP BY {columns} HAVING sum(n) <> 0")
    ).all()
    db.session.execute(text(f"DELETE FROM {counter.table}"))
    _insert(counter, rows)


def _insert(counter: Counter, rows) -> None:
    if rows:
        names = [*counter.columns, "n"]
        db.session.execute(
            text(
                f"INSERT INTO {counter.table} ({', '.join(names)}) "
                f"VALUES ({', '.join(':' + name for name in names)})"
            ),
            [dict(zip(names, row, strict=True)) for row in rows],
        )


def _recounted(counter: Counter) -> dict[tuple, int]:
    columns = ", ".join(counter.columns)
    statement = dict(counter.recounted_by).get(
        db.session.get_bind().dialect.name,
        f"SELECT {columns}, count(*) FROM {counter.counted} GROUP BY {columns}",
    )
    rows = db.session.execute(text(statement))
    return {tuple(row[:-1]): int(row[-1]) for row in rows}


def drift(table: str) -> dict[tuple, tuple[int, int]]:
    """Groups where the counter table and a recount of the rows differ: {group: (kept, recounted)}."""
    kept, recounted = totals(table), _recounted(COUNTERS[table])
    return {
        group: (kept.get(group, 0), recounted.get(group, 0))
        for group in kept.keys() | recounted.keys()
        if kept.get(group, 0) != recounted.get(group, 0)
    }


def recount(table: str) -> None:
    """Rebuild a counter table from the rows it counts; the caller commits. On PostgreSQL the counted table is
    locked against writes (SHARE) until then, so no change slips between the recount and the replacement."""
    counter = COUNTERS[table]
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text(f"LOCK TABLE {counter.counted} IN SHARE MODE"))
    rows = [(*group, n) for group, n in _recounted(counter).items()]
    db.session.execute(text(f"DELETE FROM {counter.table}"))
    _insert(counter, rows)


# the ledger's columns this module reads (consent is a layer above core: named, not imported)
_EVENTS = table("consent_events", column("action", String(30)), column("created_at", DateTime))


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def consent_events_since(actions: Iterable[str], since: datetime) -> dict[str, int]:
    """{action: ledger events with that action from `since` on}, exact: the whole hours from the counter
    table, the rest of the hour `since` falls in from the ledger itself (ix_consent_events_action_created)."""
    actions = tuple(actions)
    whole = _hour(since) if _hour(since) == since else _hour(since) + timedelta(hours=1)
    counted = db.session.execute(
        select(ConsentEventCount.action, func.sum(ConsentEventCount.n))
        .where(ConsentEventCount.action.in_(actions), ConsentEventCount.hour >= whole)
        .group_by(ConsentEventCount.action)
    ).all()
    result = dict.fromkeys(actions, 0)
    for action, n in counted:
        result[str(action)] += int(n)
    if whole > since:
        for action, n in db.session.execute(
            select(_EVENTS.c.action, func.count())
            .where(_EVENTS.c.action.in_(actions), _EVENTS.c.created_at >= since, _EVENTS.c.created_at < whole)
            .group_by(_EVENTS.c.action)
        ):
            result[str(action)] += n
    return result


def consent_events_by_hour(purpose_id: int, actions: Iterable[str], since: datetime) -> dict[tuple, int]:
    """{(hour, action): ledger events} of one purpose from the whole hour `since` on (counter table only)."""
    if _hour(since) != since:
        raise ValueError("since must be a whole hour")
    rows = db.session.execute(
        select(ConsentEventCount.hour, ConsentEventCount.action, func.sum(ConsentEventCount.n))
        .where(
            ConsentEventCount.purpose_id == purpose_id,
            ConsentEventCount.hour >= since,
            ConsentEventCount.action.in_(tuple(actions)),
        )
        .group_by(ConsentEventCount.hour, ConsentEventCount.action)
        .having(func.sum(ConsentEventCount.n) != 0)
    )
    return {(hour, action): int(n) for hour, action, n in rows}
