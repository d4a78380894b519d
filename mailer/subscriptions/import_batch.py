"""One batch of a CSV import written in a few set-based statements instead of a dozen statements a row.

The rule is subscribe()'s (operations.unchanged_outcome decides what is left alone; one ledger event per
change), applied to a batch: contacts inserted in one statement (ON CONFLICT DO NOTHING, so two imports of the
same address never fail), suppressions, contacts, subscriptions and consent states read back in one query,
subscriptions and values written in one statement each, and the batch's ledger events appended by
ledger.append_events under one lock of the ledger head, taken last so the lock is held only while the events
are chained. Suppressed, restricted and erased addresses are never touched.

On PostgreSQL the batch's addresses go into a temporary table by COPY (core/bulk.py), and everything is read
and written from there: rows of contacts this batch created cannot conflict, so their subscriptions, values
and ledger events are COPied straight into their tables. SQLite takes multi-row statements. Both give the same
rows and the same ledger (tests/subscriptions/test_import_paths.py).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Column, MetaData, String, Table, and_, bindparam, select, true, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from mailer.consent.ledger import EventDraft, RequestContext, append_events
from mailer.consent.models import ConsentState
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.models.fields import ContactFieldValue
from mailer.contacts.models.suppression import Suppression
from mailer.core.bulk import copy_rows, insert_rows
from mailer.core.clock import utcnow
from mailer.core.ids import new_public_id
from mailer.subscriptions.models.lists import Subscription, SubscriptionStatus
from mailer.subscriptions.operations import Basis, Outcome, unchanged_outcome

# What a row's outcome is called on the import's page.
IMPORT_OUTCOMES = {
    Outcome.GRANTED: "added",
    Outcome.REQUESTED: "invited",
    Outcome.ALREADY: "already_subscribed",
    Outcome.ASKED: "already_pending",
    Outcome.OPTED_OUT: "unsubscribed",
}
# Outcomes after which the contact's values from the file are kept (fills empty values only).
KEEPS_VALUES = ("added", "invited", "already_subscribed", "already_pending")

_contacts = Contact.__table__
_subs = Subscription.__table__
_values = ContactFieldValue.__table__


@dataclass
class ImportRow:
    """A row that passed the checks: its line in the file, the address, its blind index, name and values."""

    line: int
    email: str
    email_hash: str
    name: str
    # field id -> the checked value, and its number and date for segments (contacts.fields.typed_columns)
    values: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass
class BatchTarget:
    """Where a batch goes and on what basis (plain values: batches may be written on other threads)."""

    list_id: int
    purpose_id: int
    basis: Basis
    ctx: RequestContext
    details: dict[str, Any]


class BatchOrder:
    """Where a batch waits for the batches before it when several are written at once (imports.py writes
    them on more than one connection): `contacts` around the statement that inserts the batch's new
    contacts, `writes` before it writes anything another batch may write too or that locks the ledger
    head (only rows of the contacts it created come before). This one waits for nothing."""

    @contextmanager
    def contacts(self) -> Iterator[None]:
        yield

    def writes(self) -> None:
        pass

    def shared(self, hashes: dict[str, int]) -> set[str]:
        """Which of these addresses a batch before this one also had while this one read them (it may have
        changed what this one found); asked after `writes`."""
        return set()


IN_ORDER = BatchOrder()


def _insert(connection, table, rows: list[dict[str, Any]], ignore_duplicates: bool = False) -> None:
    """Rows in one statement: COPY through a temporary twin on PostgreSQL (core/bulk.py), a multi-row
    INSERT on SQLite."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        insert_rows(connection, table, rows, "ON CONFLICT DO NOTHING" if ignore_duplicates else "")
    else:
        statement = sqlite_insert(table)
        connection.execute(statement.on_conflict_do_nothing() if ignore_duplicates else statement, rows)


def _insert_new(connection, table, rows: list[dict[str, Any]]) -> None:
    """Rows that cannot conflict (they belong to contacts this transaction created): COPY on PostgreSQL."""
    if rows and connection.dialect.name == "postgresql":
        copy_rows(connection, table, rows)
    else:
        _insert(connection, table, rows)


@dataclass
class Found:
    """What the database holds for one address of a batch."""

    suppressed: bool
    contact_id: int | None = None
    status: str | None = None
    name: str | None = None
    sub_id: int | None = None
    sub_status: str | None = None
    state: str | None = None


_sup = Suppression.__table__
_states = ConsentState.__table__


def _joined(target: BatchTarget, addresses, lateral: bool = False):
    """Suppression, contact, subscription to the target list and consent state for the target purpose of each
    address in `addresses` (a table or a select with an email_hash column).

    `lateral` (PostgreSQL): the subscription and the state are looked up per contact, by the contact's id.
    As plain joins, the planner read a new list's subscriptions once and matched every address against all
    of them: the table's statistics still said the list was empty, so that looked cheapest, and each batch
    compared its 5,000 addresses with every subscription the earlier batches had made (229 s of a 50,000-row
    import's 308 s at 1,000,000 contacts; quadratic in the list's size). A per-contact lookup is not enough
    on its own: the planner then scanned the list's index (list_id, id) for each contact, for the same
    reason. So the list is compared as list_id + 0, which no index serves, leaving the unique index
    (contact_id, list_id) by its leading column; LIMIT 1 keeps the lookup per contact (without it the
    subquery is turned back into a plain join), and the unique keys allow one row at most anyway."""
    contact = _contacts.alias("contact")
    found = (
        select(
            addresses.c.email_hash,
            _sup.c.email_hash.is_not(None),
            contact.c.id,
            contact.c.status,
            contact.c.name,
        )
        .select_from(addresses)
        .outerjoin(_sup, _sup.c.email_hash == addresses.c.email_hash)
        .outerjoin(contact, (contact.c.email_hash == addresses.c.email_hash) & _sup.c.email_hash.is_(None))
    )
    of_contact = _subs.c.contact_id == contact.c.id, _subs.c.list_id == target.list_id
    in_state = _states.c.contact_id == contact.c.id, _states.c.purpose_id == target.purpose_id
    if not lateral:
        return (
            found.add_columns(_subs.c.id, _subs.c.status, _states.c.status)
            .outerjoin(_subs, and_(*of_contact))
            .outerjoin(_states, and_(*in_state))
        )
    by_contact = (_subs.c.contact_id == contact.c.id, _subs.c.list_id + 0 == target.list_id)
    sub = select(_subs.c.id, _subs.c.status).where(*by_contact).limit(1).lateral("sub")
    state = select(_states.c.status).where(*in_state).limit(1).lateral("state")
    return (
        found.add_columns(sub.c.id, sub.c.status, state.c.status)
        .outerjoin(sub, true())
        .outerjoin(state, true())
    )


def _found(rows) -> dict[str, Found]:
    return {
        email_hash: Found(bool(suppressed), contact_id, status, name, sub_id, sub_status, state)
        for email_hash, suppressed, contact_id, status, name, sub_id, sub_status, state in rows
    }


_STAGE = "import_addresses"
_STAGE_COLUMNS = ("email_hash", "email", "name", "public_id")
_staged = Table(_STAGE, MetaData(), *(Column(name, String) for name in _STAGE_COLUMNS))


# The staged addresses that are neither suppressed nor known yet, in address-hash order.
_ADD_STAGED = (
    "INSERT INTO contacts (public_id, email, email_hash, name, attributes, status, source, created_at, "
    "updated_at) SELECT s.public_id, s.email, s.email_hash, s.name, '{}', %(status)s, %(source)s, %(now)s, "
    f"%(now)s FROM {_STAGE} s WHERE NOT EXISTS (SELECT FROM suppressions x WHERE "
    "x.email_hash = s.email_hash) ORDER BY s.email_hash ON CONFLICT (email_hash) DO NOTHING RETURNING id"
)


def _add_contacts(
    connection, target: BatchTarget, new: list[dict[str, Any]], now, order: BatchOrder = IN_ORDER
) -> tuple[dict, set[int]]:
    """Insert the batch's addresses that are not suppressed and not known yet (in address-hash order: one
    order for every writer, so concurrent imports never deadlock on contacts); returns what the database holds
    for each address and the ids of the contacts this batch created."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGE} (email_hash varchar(64), email varchar(320), "
            "name varchar(200), public_id varchar(32)) ON COMMIT DELETE ROWS"
        )
        connection.exec_driver_sql(f"DELETE FROM {_STAGE}")
        copy_rows(connection, _staged, [{key: row[key] for key in _STAGE_COLUMNS} for row in new])
        with order.contacts():
            created = connection.exec_driver_sql(
                _ADD_STAGED,
                {"status": ContactStatus.ACTIVE.value, "source": target.ctx.source, "now": now},
            )
            ids = set(created.scalars())
        return _found(connection.execute(_joined(target, _staged, lateral=True))), ids
    hashes = [row["email_hash"] for row in new]
    suppressed = set(
        connection.execute(select(_sup.c.email_hash).where(_sup.c.email_hash.in_(hashes))).scalars()
    )
    fresh = [
        {
            **row,
            "attributes": {},
            "status": ContactStatus.ACTIVE.value,
            "source": target.ctx.source,
            "created_at": now,
            "updated_at": now,
        }
        for row in new
        if row["email_hash"] not in suppressed
    ]
    with order.contacts():
        _insert(connection, _contacts, fresh, ignore_duplicates=True)
    found = _known(connection, target, hashes)
    for email_hash in suppressed:
        found[email_hash] = Found(True)
    return found, set()  # SQLite writes every row through ON CONFLICT DO NOTHING: no need to tell new ones


def _known(connection, target: BatchTarget, hashes: list[str]) -> dict[str, Found]:
    """What the database holds now for those of these addresses that are contacts (_joined, suppression
    included), 500 at a time (SQLite's limit on bound parameters)."""
    found: dict[str, Found] = {}
    lateral = connection.dialect.name == "postgresql"
    for start in range(0, len(hashes), 500):
        chunk = hashes[start : start + 500]
        addresses = select(_contacts.c.email_hash).where(_contacts.c.email_hash.in_(chunk)).subquery()
        found.update(_found(connection.execute(_joined(target, addresses, lateral=lateral))))
    return found


_UPDATE_SUBSCRIPTION = (
    update(_subs)
    .where(_subs.c.id == bindparam("sub_id"))
    .values(
        status=bindparam("status"),
        requested_at=bindparam("now"),
        unsubscribed_at=None,
        confirmed_at=bindparam("confirmed_at"),
    )
)
_FILL_NAME = (
    update(_contacts)
    .where(_contacts.c.id == bindparam("contact_id"), _contacts.c.name.is_(None))
    .values(name=bindparam("name"))
)


@dataclass
class _Plan:
    """What a batch writes, worked out from what the database holds for its addresses."""

    results: dict[int, tuple[str, int]] = field(default_factory=dict)  # index in rows -> outcome, contact
    inserts: list[dict[str, Any]] = field(default_factory=list)
    new_inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    drafts: list[EventDraft] = field(default_factory=list)
    names: list[dict[str, Any]] = field(default_factory=list)
    values: list[dict[str, Any]] = field(default_factory=list)
    new_values: list[dict[str, Any]] = field(default_factory=list)


def _plan(
    target: BatchTarget, rows: list[ImportRow], first: dict[str, int], found: dict, created: set[int], now
) -> _Plan:
    """subscribe()'s rule for each address of the batch (its first row), as rows to write."""
    plan = _Plan()
    granted = target.basis != Basis.DOUBLE_OPT_IN
    new_status = (SubscriptionStatus.CONFIRMED if granted else SubscriptionStatus.PENDING).value
    action = "granted" if granted else "requested"
    lifted = {**target.details, "lifts": "objection"}
    confirmed_at = now if granted else None
    for h in sorted(first):
        row = rows[first[h]]
        known = found[h]
        if known.suppressed:
            plan.results[first[h]] = ("suppressed", 0)
            continue
        contact_id = cast(int, known.contact_id)
        if known.status != ContactStatus.ACTIVE:
            plan.results[first[h]] = (cast(str, known.status), 0)  # restricted / erased are never touched
            continue
        outcome = unchanged_outcome(known.sub_status, known.state, target.basis, False, True, False)
        if outcome is None:
            outcome = Outcome.GRANTED if granted else Outcome.REQUESTED
            if known.sub_id is None:
                (plan.new_inserts if contact_id in created else plan.inserts).append(
                    {
                        "contact_id": contact_id,
                        "list_id": target.list_id,
                        "status": new_status,
                        "source": target.ctx.source,
                        "created_at": now,
                        "requested_at": now,
                        "confirmed_at": confirmed_at,
                    }
                )
            else:
                plan.updates.append(
                    {"sub_id": known.sub_id, "status": new_status, "now": now, "confirmed_at": confirmed_at}
                )
            details = lifted if known.state == "objected" else target.details  # shared: hashed once
            plan.drafts.append(
                EventDraft(contact_id, row.email, target.purpose_id, action, target.ctx, None, details)
            )
        named = IMPORT_OUTCOMES[outcome]
        plan.results[first[h]] = (named, contact_id)
        if named in KEEPS_VALUES:
            if row.name and not known.name:
                plan.names.append({"contact_id": contact_id, "name": row.name})
            (plan.new_values if contact_id in created else plan.values).extend(
                {"contact_id": contact_id, "field_id": field_id, **value, "updated_at": now}
                for field_id, value in row.values.items()
            )
    return plan


def import_batch(
    connection, target: BatchTarget, rows: list[ImportRow], order: BatchOrder = IN_ORDER
) -> list[tuple[ImportRow, str, int]]:
    """Apply checked rows in the connection's transaction; the caller commits (which releases the ledger
    head). With another `order`, the batch inserts its new contacts and writes the rest when the batches
    before it let it (see BatchOrder).

    Returns each row with its outcome (added, invited, already_subscribed, already_pending, unsubscribed,
    suppressed, restricted, erased, duplicate) and its contact id (0 when none was touched)."""
    first: dict[str, int] = {}
    for index, row in enumerate(rows):
        first.setdefault(row.email_hash, index)
    hashes = sorted(first)  # one order for every writer: concurrent imports never deadlock on contacts
    now = utcnow()
    found, created = _add_contacts(
        connection,
        target,
        [
            {
                "email_hash": h,
                "email": rows[first[h]].email,
                "name": rows[first[h]].name or None,
                "public_id": new_public_id(),
            }
            for h in hashes
        ],
        now,
        order,
    )
    plan = _plan(target, rows, first, found, created, now)
    # Rows of the contacts this batch created go in at once (no other batch can touch them), but for
    # confirmed subscriptions: their coverage counter locks the ledger head (migration 0060).
    pending = target.basis == Basis.DOUBLE_OPT_IN
    _insert_new(connection, _values, plan.new_values)
    if pending:
        _insert_new(connection, _subs, plan.new_inserts)
    order.writes()  # the batches before this one have committed
    again = order.shared(first)
    if again:  # addresses a batch before this one also had, read while it was still being written
        # (never one this batch created: the other inserted it first, so its rows above stay as they are;
        # a suppressed address with no contact stays as first read: imports suppress nobody)
        found.update(_known(connection, target, sorted(again)))
        plan = _plan(target, rows, first, found, created, now)
    if not pending:
        _insert_new(connection, _subs, plan.new_inserts)
    _insert(connection, _subs, plan.inserts)
    if plan.updates:
        connection.execute(_UPDATE_SUBSCRIPTION, plan.updates)
    if plan.names:
        connection.execute(_FILL_NAME, plan.names)
    _insert(connection, _values, plan.values, ignore_duplicates=True)
    append_events(
        connection, plan.drafts, created
    )  # last: the head stays locked only until the caller commits
    out: list[tuple[ImportRow, str, int]] = []
    for index, row in enumerate(rows):
        if index in plan.results:
            out.append((row, *plan.results[index]))
        else:  # the address again later in the same batch: as the row-by-row rule would have found it
            earlier, contact_id = plan.results[first[row.email_hash]]
            again_outcome = {"invited": "already_pending", "added": "already_subscribed"}.get(
                earlier, earlier
            )
            out.append((row, again_outcome, contact_id))
    return out
