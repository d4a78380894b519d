"""A batch of provider events acted on with set-based statements, by exactly the per-event rules of a DSN
(bounces.record_bounce), an ARF report (complaints.record_complaint) and the one-click unsubscribe
(withdrawal.withdraw_list), as if the events were applied one by one in the order they arrived.

For a batch of any size: the contacts, campaigns and lists in one query each, the bounce log rows in one
INSERT (a report a delivery already has is refused by the unique key, as record_event's savepoint was), the
threshold counts in one grouped query, the suppressions in one INSERT, the subscriptions ended by one
UPDATE, the consent states read FOR UPDATE at once and the ledger events appended under one head lock
(ledger.append_events, as imports and the one-click group commit do), and the rate limits of each sending
domain with a complaint checked once (enforce_rate_limits). What depends on order (a threshold reached by the
second bounce of one address, a suppression's reason, a withdrawal after an unsubscribe) is decided by walking
the events in order in memory.
"""

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy import (
    ARRAY,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm.attributes import set_committed_value

from mailer.campaigns.models import Campaign
from mailer.consent.ledger import EventDraft, RequestContext, append_events
from mailer.consent.models import ConsentState, Notice, Purpose
from mailer.consent.notices import privacy_notice_in_force
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.models.suppression import Suppression, SuppressionReason
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.deliverability import bounces, complaints
from mailer.deliverability import domains as deliverability
from mailer.deliverability.models import BounceEvent
from mailer.delivery.models import Delivery
from mailer.delivery.replies import status_code
from mailer.subscriptions.models.lists import MailingList, Subscription, SubscriptionStatus
from mailer.subscriptions.withdrawal import withdraws

if TYPE_CHECKING:  # provider_events imports this module; the annotation only
    from mailer.deliverability.provider_events import ProviderEvent

log = logging.getLogger(__name__)

BOUNCE, COMPLAINT, DELIVERED, UNSUBSCRIBE, OTHER = "bounce", "complaint", "delivered", "unsubscribe", "other"
RECORDED, DUPLICATE, IGNORED = "recorded", "duplicate", "ignored"


@dataclass
class Item:
    """One event of the batch with its delivery; `outcome` is filled in (recorded, duplicate or ignored),
    or left None for an unsubscribe the caller applies by the per-event rule (no list to leave)."""

    provider: str
    event: "ProviderEvent"
    delivery: Delivery
    outcome: str | None = None


@dataclass
class _LogRow:
    """A bounce log row the batch inserts, and what its event does once it is in."""

    item: Item
    kind: str
    code: str
    diagnostic: str
    reporter: str
    domain: str
    row_id: int | None = None


@dataclass
class _Withdrawal:
    """Leaving a list: a complaint's (no notice) or an unsubscribe's (the privacy notice in force)."""

    item: Item
    contact_id: int
    list_id: int
    ctx: RequestContext
    details: dict
    notice_id: int | None
    changed: bool = False


@dataclass
class _Batch:
    contacts: dict = field(default_factory=dict)  # id -> row (status, email, email_hash)
    campaigns: dict = field(default_factory=dict)  # id -> row (from_email, public_id)
    lists: dict = field(default_factory=dict)  # id -> row (public_id, purpose_id)
    domains: dict = field(default_factory=dict)  # campaign id -> sending domain


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _insert(table):
    return (postgresql_insert if _dialect() == "postgresql" else sqlite_insert)(table)


def among(column, values):
    """column IN values; on PostgreSQL `IN (SELECT unnest(array))` with the array as one parameter, so the
    statement stays the same whatever the count (no placeholder per value for the driver to render and parse
    anew: measured as most of a 5,000-event drain's Python time). A set, not `= ANY(array)`: the planner
    joins it by hash or index, where a non-constant array is searched linearly for every row (346 ms
    against 8 ms for 500 ids over 5,000 bounce rows). Ids, or strings the array text needs not quote."""
    values = sorted(set(values))
    if _dialect() != "postgresql":
        return column.in_(values)
    if all(isinstance(v, int) or str(v).isalnum() for v in values):
        array = cast(cast(literal("{" + ",".join(map(str, values)) + "}"), String), ARRAY(column.type))
    else:
        array = literal(values, ARRAY(column.type))
    return column.in_(select(func.unnest(array)).scalar_subquery())


def _json_value(value):
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def insert_many(table, rows: list[dict], conflict: list[str], returning: tuple[str, ...] = ()):
    """INSERT the rows (dicts with the same keys) ... ON CONFLICT (conflict) DO NOTHING, RETURNING the
    `returning` columns of those that went in; one statement. On PostgreSQL the rows travel as one JSON
    parameter read by json_populate_recordset (json.dumps is C, the server parses it; a multi-row VALUES of
    thousands of placeholders is parsed in Python by the driver each time); executemany elsewhere."""
    if _dialect() != "postgresql":
        statement = sqlite_insert(table).on_conflict_do_nothing(index_elements=conflict)
        if returning:
            return db.session.execute(statement.returning(*(table.c[name] for name in returning)), rows)
        return db.session.execute(statement, rows)
    names = ", ".join(rows[0])
    sql = (
        f"INSERT INTO {table.name} ({names}) SELECT {names} "
        f"FROM json_populate_recordset(NULL::{table.name}, CAST(:rows AS json)) "
        f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
    )
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    return db.session.execute(text(sql), {"rows": json.dumps(rows, default=_json_value)})


def _load(items: list[Item]) -> _Batch:
    """The batch's contacts, campaigns and lists (with their purpose), one query each."""
    batch = _Batch()
    deliveries = [item.delivery for item in items]
    contact_ids = sorted({d.contact_id for d in deliveries})
    campaign_ids = sorted({d.campaign_id for d in deliveries})
    list_ids = sorted({d.list_id for d in deliveries if d.list_id})
    batch.contacts = {
        row.id: row
        for row in db.session.execute(
            select(Contact.id, Contact.status, Contact.email, Contact.email_hash, Contact.language).where(
                among(Contact.id, contact_ids)
            )
        )
    }
    if campaign_ids:
        batch.campaigns = {
            row.id: row
            for row in db.session.execute(
                select(Campaign.id, Campaign.from_email, Campaign.public_id).where(
                    Campaign.id.in_(campaign_ids)
                )
            )
        }
    if list_ids:
        batch.lists = {
            row.id: row
            for row in db.session.execute(
                select(MailingList.id, MailingList.public_id, Purpose.id.label("purpose_id"))
                .outerjoin(Purpose, Purpose.list_id == MailingList.id)
                .where(MailingList.id.in_(list_ids))
            )
        }
    default = None
    for campaign_id in campaign_ids:
        campaign = batch.campaigns.get(campaign_id)
        from_email = campaign.from_email if campaign else None
        if from_email and "@" in from_email:
            batch.domains[campaign_id] = deliverability.domain_of(from_email)
        else:  # the organisation's sender: read once per batch, not once per event
            default = deliverability.default_domain() if default is None else default
            batch.domains[campaign_id] = default
    return batch


def _plan(items: list[Item], batch: _Batch) -> tuple[list[_LogRow], list[Item]]:
    """The bounce log row each event would write (record_bounce's and record_complaint's fields), in order;
    the events that write none get their outcome here. Returns (rows, unsubscribes)."""
    rows: list[_LogRow] = []
    unsubscribes: list[Item] = []
    for item in items:
        event, delivery = item.event, item.delivery
        domain = batch.domains[delivery.campaign_id]
        reporter = event.reporter or item.provider
        if event.kind == BOUNCE:
            if not event.final:  # a "delayed" notice: report.failure() finds no failure
                item.outcome = IGNORED
                continue
            kind = bounces.classify(event.status, event.diagnostic)
            code = status_code(event.status, event.diagnostic)
            rows.append(_LogRow(item, kind, code, event.diagnostic, reporter, domain))
        elif event.kind == COMPLAINT:
            feedback = event.feedback_type
            if feedback == "not-spam":
                item.outcome = IGNORED
            elif feedback == "auth-failure":
                diagnostic = "authentication failure report: unspecified"
                rows.append(_LogRow(item, bounces.POLICY, feedback, diagnostic, reporter, domain))
            else:
                rows.append(
                    _LogRow(item, bounces.COMPLAINT, feedback, f"{feedback} report", reporter, domain)
                )
        elif event.kind == UNSUBSCRIBE:
            unsubscribes.append(item)
        else:
            item.outcome = IGNORED  # a delivered (or other) event: nothing to do
    return rows, unsubscribes


def _fresh(rows: list[_LogRow]) -> list[_LogRow]:
    """The rows whose delivery has no report of their kind yet (before, or earlier in this batch); the
    others' events are duplicates (record_event's savepoint refused them)."""
    existing = {
        (row.delivery_id, row.kind)
        for row in db.session.execute(
            select(BounceEvent.delivery_id, BounceEvent.kind).where(
                among(BounceEvent.delivery_id, {r.item.delivery.id for r in rows})
            )
        )
    }
    fresh: list[_LogRow] = []
    for row in rows:
        key = (row.item.delivery.id, row.kind)
        if key in existing:
            row.item.outcome = DUPLICATE
            continue
        existing.add(key)
        fresh.append(row)
    return fresh


def _threshold_counts(rows: list[_LogRow]) -> dict[tuple[int, str], int]:
    """Per (contact, hard|soft) of the rows: its bounce log rows counted as record_bounce counts them (hard:
    all; soft: within BOUNCE_SOFT_WINDOW_DAYS), in one grouped query."""
    contact_ids = sorted({r.item.delivery.contact_id for r in rows if r.kind in (bounces.HARD, bounces.SOFT)})
    counts: dict[tuple[int, str], int] = {}
    for contact_id in contact_ids:
        counts[(contact_id, bounces.HARD)] = counts[(contact_id, bounces.SOFT)] = 0
    if not contact_ids:
        return counts
    since = utcnow() - timedelta(days=current_app.config["BOUNCE_SOFT_WINDOW_DAYS"])
    soft = and_(BounceEvent.kind == bounces.SOFT, BounceEvent.created_at >= since)
    query = (
        select(
            BounceEvent.contact_id,
            func.sum(case((BounceEvent.kind == bounces.HARD, 1), else_=0)),
            func.sum(case((soft, 1), else_=0)),
        )
        .where(among(BounceEvent.contact_id, contact_ids), or_(BounceEvent.kind == bounces.HARD, soft))
        .group_by(BounceEvent.contact_id)
    )
    for contact_id, hard, soft_count in db.session.execute(query):
        counts[(contact_id, bounces.HARD)] = int(hard or 0)
        counts[(contact_id, bounces.SOFT)] = int(soft_count or 0)
    return counts


def _actions(rows: list[_LogRow], before: dict[tuple[int, str], int]) -> list[str]:
    """Each row's action_taken, in order: a bounce counts against its contact's count before the batch plus
    the batch's rows up to and including it (record_bounce counts after its own insert)."""
    config = current_app.config
    limits: dict[str, int] = {
        bounces.HARD: config["BOUNCE_HARD_LIMIT"],
        bounces.SOFT: config["BOUNCE_SOFT_LIMIT"],
    }
    seen = dict(before)
    actions = []
    for row in rows:
        if row.kind == bounces.POLICY:
            actions.append("operator_alert")
        elif row.kind == bounces.COMPLAINT:
            actions.append("suppressed")
        else:
            key = (row.item.delivery.contact_id, row.kind)
            seen[key] += 1
            if seen[key] < limits[row.kind]:
                actions.append("counted")
            else:
                actions.append("suppressed" if row.kind == bounces.HARD else "suppressed_after_soft")
    return actions


def _insert_log_rows(rows: list[_LogRow]) -> tuple[list[_LogRow], list[str]]:
    """Insert the batch's new bounce log rows with their actions (one statement); returns the rows inserted,
    in order, and their actions."""
    fresh = _fresh(rows)
    if not fresh:
        return [], []
    actions = _actions(fresh, _threshold_counts(fresh))
    table = BounceEvent.__table__
    now = utcnow()
    values = [
        {
            "delivery_id": row.item.delivery.id,
            "contact_id": row.item.delivery.contact_id,
            "campaign_id": row.item.delivery.campaign_id,
            "sending_domain": row.domain,
            "kind": row.kind,
            "source": row.item.provider,
            "status_code": row.code[:16],
            "diagnostic": bounces.redact(row.diagnostic),
            "reporter": bounces.redact(row.reporter)[:253],
            "action_taken": action,
            "created_at": now,
        }
        for row, action in zip(fresh, actions, strict=True)
    ]
    inserted_rows = insert_many(table, values, ["delivery_id", "kind"], ("id", "delivery_id", "kind"))
    ids = {(r.delivery_id, r.kind): r.id for r in inserted_rows}
    inserted = []
    for row in fresh:
        row.row_id = ids.get((row.item.delivery.id, row.kind))
        if row.row_id is None:  # another worker recorded the same report meanwhile
            row.item.outcome = DUPLICATE
        else:
            inserted.append(row)
    bounces.announce(
        [(r.item.delivery.contact_id, r.item.delivery.campaign_id, r.kind, r.code) for r in inserted]
    )
    if len(inserted) == len(fresh):
        return inserted, actions
    # Rare: a row another transaction inserted first. Count again (the batch's rows now included) and
    # correct the actions of those that went in.
    after = _threshold_counts(inserted)
    for key, count in Counter((r.item.delivery.contact_id, r.kind) for r in inserted).items():
        after[key] -= count
    actions = _actions(inserted, after)
    for action in set(actions):
        ids_of = [row.row_id for row, act in zip(inserted, actions, strict=True) if act == action]
        db.session.execute(update(table).where(among(table.c.id, ids_of)).values(action_taken=action))
    return inserted, actions


def _apply_log_rows(
    rows: list[_LogRow], actions: list[str], batch: _Batch
) -> tuple[list[tuple[str, str]], list, set[str]]:
    """Walk the inserted rows in order: delivery states, what to suppress, which lists to leave and which
    domains had a complaint. Returns (suppressions in order, complaint withdrawals, domains)."""
    suppress: list[tuple[str, str]] = []
    withdrawals: list[_Withdrawal] = []
    complained: set[str] = set()
    marks: list[tuple[Delivery, str, str]] = []
    for row, action in zip(rows, actions, strict=True):
        item, delivery = row.item, row.item.delivery
        item.outcome = RECORDED
        contact = batch.contacts.get(delivery.contact_id)
        text = bounces.redact(f"{row.code} {row.diagnostic}".strip())
        if row.kind == bounces.POLICY:
            if item.event.kind == BOUNCE:
                marks.append(
                    (delivery, "failed", f"refused by policy (our sending setup, not the address): {text}")
                )
                log.error(
                    "Policy bounce for delivery %s (%s): check SPF, DKIM, DMARC and the relay's reputation",
                    delivery.id,
                    text,
                )
            else:
                log.error(
                    "Authentication failure report about delivery %s: check SPF, DKIM and DMARC", delivery.id
                )
        elif row.kind == bounces.COMPLAINT:
            if contact is not None and contact.email_hash:
                suppress.append((contact.email_hash, SuppressionReason.COMPLAINT))
            mailing_list = batch.lists.get(delivery.list_id) if delivery.list_id else None
            if contact is not None and contact.status != ContactStatus.ERASED and mailing_list is not None:
                campaign = batch.campaigns.get(delivery.campaign_id)
                details = {
                    "list": mailing_list.public_id,
                    "campaign": campaign.public_id if campaign else None,
                    "reason": "complaint",
                    "feedback_type": row.code,
                }
                withdrawals.append(
                    _Withdrawal(item, contact.id, mailing_list.id, complaints.SOURCE, details, None)
                )
            complained.add(row.domain)
        else:
            marks.append((delivery, "bounced", f"{row.kind} bounce: {text}"))
            if action != "counted" and contact is not None and contact.email_hash:
                suppress.append((contact.email_hash, SuppressionReason.HARD_BOUNCE))
    _mark_deliveries(marks)
    return suppress, withdrawals, complained


def _mark_deliveries(marks: list[tuple[Delivery, str, str]]) -> None:
    """bounces._mark_delivery for each, in order, written by one UPDATE (a statement per delivery also ran
    the delivery counters' statement trigger once each: most of a batch's time). The loaded deliveries get
    the new values as their committed state, so a later mark of the same one sees its new status."""
    rows = []
    for delivery, status, reason in marks:
        fate = bounces.delivery_fate(delivery, status, reason)
        if fate is None:
            continue
        for name, value in fate.items():
            set_committed_value(delivery, name, value)
        rows.append({"b_id": delivery.id, **{f"b_{name}": value for name, value in fate.items()}})
    if not rows:
        return
    table = Delivery.__table__
    if _dialect() != "postgresql":
        db.session.execute(
            update(table)
            .where(
                table.c.id == bindparam("b_id"), or_(table.c.status == "sent", table.c.status == "uncertain")
            )
            .values(
                status=bindparam("b_status"),
                reason=bindparam("b_reason"),
                smtp_code=bindparam("b_smtp_code"),
                finished_at=bindparam("b_finished_at"),
            ),
            rows,
        )
        return
    db.session.execute(
        text(
            "UPDATE deliveries AS d SET status = m.b_status, reason = m.b_reason, smtp_code = m.b_smtp_code, "
            "finished_at = m.b_finished_at FROM json_to_recordset(CAST(:rows AS json)) AS m(b_id bigint, "
            "b_status varchar, b_reason varchar, b_smtp_code integer, b_finished_at timestamp) "
            "WHERE d.id = m.b_id AND d.status IN ('sent', 'uncertain')"
        ),
        {"rows": json.dumps(rows, default=_json_value)},
    )


def _suppress(wanted: list[tuple[str, str]]) -> None:
    """Add the suppressions in order (the first reason of an address wins, as does an existing entry), one
    statement."""
    first: dict[str, str] = {}
    for address_hash, reason in wanted:
        first.setdefault(address_hash, reason)
    if not first:
        return
    table = Suppression.__table__
    now = utcnow()
    rows = [{"email_hash": h, "reason": str(reason), "created_at": now} for h, reason in first.items()]
    insert_many(table, rows, ["email_hash"])


def _unsubscribe_withdrawals(unsubscribes: list[Item], batch: _Batch) -> list[_Withdrawal]:
    """The lists the unsubscribe events leave; an erased contact's is a duplicate, and one without a list to
    leave keeps outcome None (the caller applies unsubscribe_everything to it)."""
    notices: dict[str | None, Notice | None] = {}  # the notice in force per language, looked up once
    withdrawals = []
    for item in unsubscribes:
        delivery = item.delivery
        contact = batch.contacts.get(delivery.contact_id)
        if contact is None or contact.status == ContactStatus.ERASED:
            item.outcome = DUPLICATE  # the contact is gone: nothing to do
            continue
        mailing_list = batch.lists.get(delivery.list_id) if delivery.list_id else None
        if mailing_list is None:
            continue
        campaign = batch.campaigns.get(delivery.campaign_id)
        details = {"list": mailing_list.public_id, "campaign": campaign.public_id if campaign else None}
        ctx = RequestContext(f"provider:{item.provider}")
        if contact.language not in notices:  # the version of the notice in the person's language
            notices[contact.language] = privacy_notice_in_force(contact.language)
        notice = notices[contact.language]
        withdrawals.append(
            _Withdrawal(item, contact.id, mailing_list.id, ctx, details, notice.id if notice else None)
        )
    return withdrawals


def _withdraw(withdrawals: list[_Withdrawal], batch: _Batch) -> None:
    """withdraw_list for each, in order: the subscriptions ended by one UPDATE (the first withdrawal of a
    pair is the one that ended it), the consent states read FOR UPDATE at once, one ledger append."""
    if not withdrawals:
        return
    pairs = sorted({(w.contact_id, w.list_id) for w in withdrawals})
    ended = set(
        db.session.execute(
            update(Subscription)
            .where(
                tuple_(Subscription.contact_id, Subscription.list_id).in_(pairs),
                Subscription.status != SubscriptionStatus.UNSUBSCRIBED,
            )
            .values(status=SubscriptionStatus.UNSUBSCRIBED, unsubscribed_at=utcnow())
            .returning(Subscription.contact_id, Subscription.list_id)
            .execution_options(synchronize_session=False)
        ).all()
    )
    purposes = {list_id: batch.lists[list_id].purpose_id for _, list_id in pairs}
    consent_pairs = sorted({(c, purposes[lst]) for c, lst in pairs if purposes[lst] is not None})
    statuses = {}
    if consent_pairs:
        statuses = {
            (row.contact_id, row.purpose_id): row.status
            for row in db.session.execute(
                select(ConsentState.contact_id, ConsentState.purpose_id, ConsentState.status)
                .where(tuple_(ConsentState.contact_id, ConsentState.purpose_id).in_(consent_pairs))
                .order_by(ConsentState.contact_id, ConsentState.purpose_id)
                .with_for_update()
            )
        }
    drafts = []
    for w in withdrawals:
        pair = (w.contact_id, w.list_id)
        just_ended = pair in ended
        ended.discard(pair)  # a later withdrawal of the same pair finds it already ended
        purpose_id = purposes[w.list_id]
        claimed = purpose_id is not None and withdraws(statuses.get((w.contact_id, purpose_id)), just_ended)
        if claimed:
            statuses[(w.contact_id, purpose_id)] = "withdrawn"
            email = batch.contacts[w.contact_id].email
            drafts.append(
                EventDraft(w.contact_id, email, purpose_id, "withdrawn", w.ctx, w.notice_id, w.details)
            )
        w.changed = just_ended or claimed
    db.session.flush()  # the ORM's pending changes first, as record_consent does before the head lock
    append_events(db.session.connection(), drafts)


def apply_batch(items: list[Item]) -> None:
    """Act on matched events, set-based, with the outcome of each as if applied one by one in order; the
    caller commits. An unsubscribe with no list to leave is left with outcome None for the per-event rule."""
    if not items:
        return
    batch = _load(items)
    rows, unsubscribes = _plan(items, batch)
    inserted, actions = _insert_log_rows(rows) if rows else ([], [])
    suppress, withdrawals, complained = _apply_log_rows(inserted, actions, batch)
    leaving = _unsubscribe_withdrawals(unsubscribes, batch)
    # One walk in arrival order over both kinds of withdrawal (a complaint after an unsubscribe of the same
    # list withdraws nothing more, and the other way round).
    order = {id(item): number for number, item in enumerate(items)}
    _withdraw(sorted(withdrawals + leaving, key=lambda w: order[id(w.item)]), batch)
    for w in leaving:
        w.item.outcome = RECORDED if w.changed else DUPLICATE
    _suppress(suppress)
    db.session.flush()  # the delivery states, before the complaint rate reads them
    for domain in sorted(complained):  # each domain's rate once, after all of the batch's complaints
        deliverability.enforce_rate_limits(domain)  # logs what it paused
