"""One batch of a CSV import written in a few set-based statements instead of a dozen statements a row.

The rule is subscribe()'s (operations.unchanged_outcome decides what is left alone; one ledger event per
change), applied to a batch: contacts inserted in one multi-row statement (ON CONFLICT DO NOTHING, so two
imports of the same address never fail), suppressions, subscriptions and consent states read with one query
each, subscriptions written in one statement, and the batch's ledger events appended by ledger.append_events
under one lock of the ledger head, taken last so the lock is held only while the events are chained.
Suppressed, restricted and erased addresses are never touched.
"""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import any_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from mailer.consent.ledger import EventDraft, RequestContext, append_events
from mailer.consent.models import ConsentState, Purpose
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.models.fields import ContactFieldValue
from mailer.contacts.models.suppression import Suppression
from mailer.core.bulk import insert_unnest
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
    """Where a batch goes and on what basis."""

    list_id: int
    purpose: Purpose
    basis: Basis
    ctx: RequestContext
    details: dict[str, Any]


def _insert(connection, table, rows: list[dict[str, Any]], ignore_duplicates: bool = False) -> None:
    """Rows in one statement: unnest arrays on PostgreSQL (core/bulk.py), a multi-row INSERT on SQLite."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        insert_unnest(connection, table, rows, "ON CONFLICT DO NOTHING" if ignore_duplicates else "")
    else:
        statement = sqlite_insert(table)
        connection.execute(statement.on_conflict_do_nothing() if ignore_duplicates else statement, rows)


def _among(connection, column, values: list):
    """column IN values: one array parameter on PostgreSQL (= ANY), not thousands of placeholders to compile
    and parse; an IN list on SQLite."""
    if connection.dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


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


def import_batch(connection, target: BatchTarget, rows: list[ImportRow]) -> list[tuple[ImportRow, str, int]]:
    """Apply checked rows in the connection's transaction; the caller commits (which releases the ledger
    head).

    Returns each row with its outcome (added, invited, already_subscribed, already_pending, unsubscribed,
    suppressed, restricted, erased, duplicate) and its contact id (0 when none was touched)."""
    results: dict[int, tuple[str, int]] = {}  # index in rows -> outcome, contact id
    first: dict[str, int] = {}
    for index, row in enumerate(rows):
        first.setdefault(row.email_hash, index)
    hashes = sorted(first)  # one order for every writer: concurrent imports never deadlock on contacts
    suppressed = set(
        connection.execute(
            select(Suppression.email_hash).where(_among(connection, Suppression.email_hash, hashes))
        ).scalars()
    )
    now = utcnow()
    new_contacts: list[dict[str, Any]] = [
        {
            "public_id": new_public_id(),
            "email": rows[first[h]].email,
            "email_hash": h,
            "name": rows[first[h]].name or None,
            "attributes": {},
            "status": ContactStatus.ACTIVE.value,
            "source": target.ctx.source,
            "created_at": now,
            "updated_at": now,
        }
        for h in hashes
        if h not in suppressed
    ]
    _insert(connection, _contacts, new_contacts, ignore_duplicates=True)
    known = {
        h: (contact_id, status, name)
        for contact_id, h, status, name in connection.execute(
            select(_contacts.c.id, _contacts.c.email_hash, _contacts.c.status, _contacts.c.name).where(
                _among(connection, _contacts.c.email_hash, [h for h in hashes if h not in suppressed])
            )
        )
    }
    ids = sorted(contact_id for contact_id, status, _ in known.values() if status == ContactStatus.ACTIVE)
    subs = {
        contact_id: (sub_id, status)
        for sub_id, contact_id, status in connection.execute(
            select(_subs.c.id, _subs.c.contact_id, _subs.c.status).where(
                _subs.c.list_id == target.list_id, _among(connection, _subs.c.contact_id, ids)
            )
        )
    }
    states = dict(
        connection.execute(
            select(ConsentState.contact_id, ConsentState.status).where(
                ConsentState.purpose_id == target.purpose.id, _among(connection, ConsentState.contact_id, ids)
            )
        ).all()
    )
    granted = target.basis != Basis.DOUBLE_OPT_IN
    new_status = SubscriptionStatus.CONFIRMED if granted else SubscriptionStatus.PENDING
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    drafts: list[EventDraft] = []
    names: list[dict[str, Any]] = []
    values: list[dict[str, Any]] = []
    for h in hashes:
        row = rows[first[h]]
        if h in suppressed:
            results[first[h]] = ("suppressed", 0)
            continue
        contact_id, status, name = known[h]
        if status != ContactStatus.ACTIVE:
            results[first[h]] = (status, 0)  # restricted / erased are never touched by an import
            continue
        sub_id, sub_status = subs.get(contact_id, (None, None))
        state = states.get(contact_id)
        outcome = unchanged_outcome(sub_status, state, target.basis, False, True, False)
        if outcome is None:
            outcome = Outcome.GRANTED if granted else Outcome.REQUESTED
            if sub_id is None:
                inserts.append(
                    {
                        "contact_id": contact_id,
                        "list_id": target.list_id,
                        "status": new_status.value,
                        "source": target.ctx.source,
                        "created_at": now,
                        "requested_at": now,
                        "confirmed_at": now if granted else None,
                    }
                )
            else:
                updates.append(
                    {
                        "sub_id": sub_id,
                        "status": new_status.value,
                        "now": now,
                        "confirmed_at": now if granted else None,
                    }
                )
            details = {**target.details, **({"lifts": "objection"} if state == "objected" else {})}
            action = "granted" if granted else "requested"
            drafts.append(
                EventDraft(contact_id, row.email, target.purpose.id, action, target.ctx, None, details)
            )
        named = IMPORT_OUTCOMES[outcome]
        results[first[h]] = (named, contact_id)
        if named in KEEPS_VALUES:
            if row.name and not name:
                names.append({"contact_id": contact_id, "name": row.name})
            values.extend(
                {"contact_id": contact_id, "field_id": field_id, **value, "updated_at": now}
                for field_id, value in row.values.items()
            )
    _insert(connection, _subs, inserts)
    if updates:
        connection.execute(_UPDATE_SUBSCRIPTION, updates)
    if names:
        connection.execute(_FILL_NAME, names)
    _insert(connection, _values, values, ignore_duplicates=True)
    append_events(connection, drafts)  # last: the ledger head stays locked only until the caller commits
    out: list[tuple[ImportRow, str, int]] = []
    for index, row in enumerate(rows):
        if index in results:
            out.append((row, *results[index]))
        else:  # the address again later in the same batch: as the row-by-row rule would have found it
            found, contact_id = results[first[row.email_hash]]
            again = {"invited": "already_pending", "added": "already_subscribed"}.get(found, found)
            out.append((row, again, contact_id))
    return out
