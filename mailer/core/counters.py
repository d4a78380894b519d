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

The triggers are created by migration 0031 (frozen there); COUNTERS names what each table counts.
"""

from dataclasses import dataclass

from sqlalchemy import BigInteger, Index, String, text
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


@dataclass(frozen=True)
class Counter:
    """A counter table: the table it counts and the columns it groups by."""

    table: str
    counted: str
    columns: tuple[str, ...]


COUNTERS = {
    counter.table: counter
    for counter in (
        Counter("subscription_counts", "subscriptions", ("list_id", "status")),
        Counter("contact_counts", "contacts", ("status",)),
        Counter("delivery_counts", "deliveries", ("campaign_id", "status")),
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
    rows = db.session.execute(text(f"SELECT {columns}, count(*) FROM {counter.counted} GROUP BY {columns}"))
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
