"""Events from sending providers' webhooks, read into one shape and acted on like the DSNs and ARF reports
that reach the bounce listener (REQUIREMENTS E1-E5).

Each provider module (provider_ses, provider_sendgrid, provider_postmark, provider_mailgun) proves a request
came from the provider and turns its JSON into ProviderEvents. store_events() keeps them durably in one
INSERT (a receipt per event with its payload: a replayed or retried event changes nothing) and enqueues a
job unless one is already waiting (a burst of requests queues one job); the worker's process_pending() then
acts on them in batches, set-based (provider_batch; a worker that dies mid-batch leaves them pending for the
next job or the scheduler's sweep; a committed batch is never acted on again): the delivery
found by our Message-ID (which the providers echo) or, where a provider echoes none, by the address's latest
delivery, and then the same rules as a DSN (bounces.record_bounce: RFC 3463 classes, 5.2.2 soft, 5.7.x
policy) or an ARF report (complaints.record_complaint). An unsubscribe event leaves the message's list
through the same withdrawal rule as the one-click POST.
"""

import hmac
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from flask import current_app
from sqlalchemy import bindparam, func, select, text, update
from werkzeug.datastructures import Headers

from mailer.campaigns.models import Campaign
from mailer.consent.ledger import RequestContext
from mailer.consent.notices import privacy_notice_in_force
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.operations import AddressError, email_hash, normalise_email
from mailer.core.broker import enqueue_coalesced_after_commit
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.deliverability import bounces, provider_batch
from mailer.deliverability.inbound import deliveries_by_message_ids
from mailer.deliverability.models import ProviderEventReceipt
from mailer.delivery.models import Delivery
from mailer.subscriptions.models.lists import MailingList
from mailer.subscriptions.withdrawal import unsubscribe_everything, withdraw_list

log = logging.getLogger(__name__)

# The kinds of event (defined with the batch rules that act on them).
BOUNCE, COMPLAINT, DELIVERED, UNSUBSCRIBE, OTHER = (
    provider_batch.BOUNCE,
    provider_batch.COMPLAINT,
    provider_batch.DELIVERED,
    provider_batch.UNSUBSCRIBE,
    provider_batch.OTHER,
)
MATCHED_KINDS = (BOUNCE, COMPLAINT, UNSUBSCRIBE, DELIVERED)
# A receipt's outcome while its event waits for the worker, and (never committed) while one acts on it.
PENDING, WORKING = "pending", "working"


class WebhookRefused(ValueError):
    """A request we do not act on: its HTTP status and a message for the operator reading the provider's
    delivery log."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class WebhookRequest:
    """What a door hands over: the raw body (signatures are over bytes), headers, query and basic auth."""

    body: bytes
    headers: Headers
    args: Mapping[str, str] = field(default_factory=dict)
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class ProviderEvent:
    """One provider event in our terms.

    key: the provider's id of the event (replay protection); kind: bounce, complaint, delivered, unsubscribe
    or other; message_id: our Message-ID as the provider echoes it ('' when it echoes none); recipient: the
    address (only to find the delivery when there is no Message-ID; never stored or logged); status and
    diagnostic: the enhanced status code and SMTP text of a bounce; final: False for a provider's "still
    trying" notice (not a bounce yet); feedback_type: a complaint's ARF type.
    """

    key: str
    kind: str
    message_id: str = ""
    recipient: str = ""
    status: str = ""
    diagnostic: str = ""
    final: bool = True
    feedback_type: str = "abuse"
    reporter: str = ""


@dataclass
class WebhookResult:
    """What a request did: events per outcome, and one line for the provider's delivery log."""

    counts: dict[str, int] = field(default_factory=dict)
    detail: str = ""
    by_provider: dict[str, dict[str, int]] = field(default_factory=dict)  # the worker's counts

    def add(self, outcome: str, provider: str = "") -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        if provider:
            mine = self.by_provider.setdefault(provider, {})
            mine[outcome] = mine.get(outcome, 0) + 1


# A JSON escape that decodes to text no database column can hold: NUL, or a UTF-16 surrogate (alone, it is
# not a character; in a pair it is, so a match only leads to a closer look).
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def _storable(value) -> bool:
    """No NUL and no lone surrogate in any string of a parsed JSON value (PostgreSQL refuses both)."""
    if isinstance(value, str):
        if "\x00" in value:
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v) for v in value)
    return True


def parse_json(body: bytes | str):
    """The request body as JSON, or a 400 saying it is not (or holds text no database can store)."""
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise WebhookRefused(400, "The request body is not valid JSON: nothing was recorded.") from None
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if _SUSPECT_ESCAPE.search(raw) and not _storable(value):
        raise WebhookRefused(
            400, "The request body holds a NUL character or a broken UTF-16 escape: nothing was recorded."
        )
    return value


def check_fresh(timestamp, provider: str) -> None:
    """Refuse a signed timestamp older (or further ahead) than PROVIDER_WEBHOOK_MAX_AGE_SECONDS."""
    try:
        sent = float(timestamp)
    except (TypeError, ValueError):
        raise WebhookRefused(401, f"The {provider} request has no readable timestamp: refused.") from None
    max_age = current_app.config["PROVIDER_WEBHOOK_MAX_AGE_SECONDS"]
    age = time.time() - sent
    if abs(age) > max_age:
        raise WebhookRefused(
            403,
            f"The {provider} request's timestamp is {int(abs(age))} seconds "
            f"{'old' if age > 0 else 'in the future'}; more than {max_age} is refused as stale.",
        )


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented secret with the configured one."""
    return hmac.compare_digest((given or "").encode(), expected.encode())


def angle_id(value) -> str:
    """A Message-ID in its header form, with angle brackets ('' when there is none)."""
    text = str(value or "").strip()
    if not text or len(text) > 248 or any(c.isspace() for c in text):
        return ""
    return text if text.startswith("<") else f"<{text.strip('<>')}>"


def _latest_deliveries_to(addresses: list[str]) -> dict[str, Delivery]:
    """The newest delivery that left us for each address (for providers that echo no Message-ID), by
    address: two queries for all of them."""
    hashes: dict[str, str] = {}
    for address in set(addresses):
        try:
            hashes[address] = email_hash(normalise_email(address))
        except AddressError:
            continue
    if not hashes:
        return {}
    newest = db.session.execute(
        select(Contact.email_hash, func.max(Delivery.id))
        .join(Contact, Contact.id == Delivery.contact_id)
        .where(provider_batch.among(Contact.email_hash, hashes.values()), Delivery.message_id != "")
        .group_by(Contact.email_hash)
    ).all()
    by_id = {
        d.id: d
        for d in db.session.execute(
            select(Delivery).where(provider_batch.among(Delivery.id, [i for _, i in newest]))
        ).scalars()
    }
    by_hash = {address_hash: by_id[delivery_id] for address_hash, delivery_id in newest}
    return {address: by_hash[h] for address, h in hashes.items() if h in by_hash}


def _unsubscribe(delivery: Delivery, provider: str) -> bounces.Outcome:
    """Leave the message's list (or everything, when it was sent for none) by the one-click rule."""
    contact = db.session.get(Contact, delivery.contact_id)
    if contact is None or contact.status == ContactStatus.ERASED:
        return bounces.Outcome(UNSUBSCRIBE, False, "the contact is gone: nothing to do")
    campaign = db.session.get(Campaign, delivery.campaign_id)
    mailing_list = db.session.get(MailingList, delivery.list_id) if delivery.list_id else None
    ctx = RequestContext(f"provider:{provider}")
    details = {
        "list": mailing_list.public_id if mailing_list else None,
        "campaign": campaign.public_id if campaign else None,
    }
    notice = privacy_notice_in_force(contact.language)  # the version of the notice in the person's language
    if mailing_list is not None:
        changed = withdraw_list(contact, mailing_list, ctx, details, notice=notice)
    else:
        changed = unsubscribe_everything(contact, ctx, details, notice=notice)
    return bounces.Outcome(UNSUBSCRIBE, changed, "unsubscribed" if changed else "already unsubscribed")


def store_events(provider: str, events: list[ProviderEvent]) -> WebhookResult:
    """Durably keep a verified request's new events (one multi-row INSERT; a replayed or retried event is
    refused by the unique key) and ask the worker to act on them once this commits; commits.

    The event's fields wait in the receipt's payload (the address too, for providers that echo no
    Message-ID) until process_pending() acts on them and clears it.
    """
    result = WebhookResult()
    rows: dict[str, dict] = {}
    now = utcnow()
    for event in events:
        key = event.key[:200]
        if key in rows:
            result.add("duplicate")
            continue
        rows[key] = {
            "provider": provider,
            "event_key": key,
            "kind": event.kind[:16],
            "outcome": PENDING,
            "payload": asdict(event),
            "received_at": now,
        }
    stored = 0
    if rows:
        table = ProviderEventReceipt.__table__
        inserted = provider_batch.insert_many(table, list(rows.values()), ["provider", "event_key"], ("id",))
        stored = len(inserted.all())
        if stored:
            enqueue_coalesced_after_commit(db.session, "process_provider_events")
    db.session.commit()
    if stored:
        result.counts["accepted"] = stored
    if len(rows) > stored:
        result.counts["duplicate"] = result.counts.get("duplicate", 0) + len(rows) - stored
    result.detail = ", ".join(f"{count} {outcome}" for outcome, count in sorted(result.counts.items()))
    return result


_ACTING_LOCK = 0x9E7  # advisory lock of the worker acting on provider events: one at a time


def _claim_pending(limit: int) -> list:
    """Take the first `limit` waiting receipts for this transaction, in the order they arrived.

    One worker acts at a time: on PostgreSQL a transaction-level advisory lock, waited for, is taken first
    (with SKIP LOCKED alone two workers took receipts 1 and 2 and could commit in either order, so a later
    hard bounce could be recorded before the soft one it followed); on SQLite the UPDATE itself takes the
    database's write lock. The status change is never committed on its own: a worker that dies leaves them
    pending, and its lock goes with its transaction."""
    table = ProviderEventReceipt.__table__
    waiting = select(table.c.id).where(table.c.outcome == PENDING).order_by(table.c.id).limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ACTING_LOCK})
    statement = (
        update(table)
        .where(table.c.id.in_(waiting.scalar_subquery()), table.c.outcome == PENDING)
        .values(outcome=WORKING)
        .returning(table.c.id, table.c.provider, table.c.payload)
    )
    return sorted(db.session.execute(statement).all(), key=lambda row: row.id)


def _matched(events: list[ProviderEvent]) -> list[Delivery | None]:
    """Each event's delivery: all Message-IDs resolved in one query, and the address's latest delivery (two
    queries for the batch) where a provider echoes none or ours is unknown."""
    wanted = [e for e in events if e.kind in MATCHED_KINDS]
    found = deliveries_by_message_ids([e.message_id for e in wanted if e.message_id])
    by_address = _latest_deliveries_to(
        [e.recipient for e in wanted if e.recipient and found.get(e.message_id) is None]
    )
    matched: list[Delivery | None] = []
    for event in events:
        delivery = found.get(event.message_id) if event.kind in MATCHED_KINDS and event.message_id else None
        if delivery is None and event.kind in MATCHED_KINDS and event.recipient:
            delivery = by_address.get(event.recipient)
        matched.append(delivery)
    return matched


def process_pending(limit: int = 500) -> WebhookResult:
    """Act on up to `limit` stored events in one transaction, in the order they arrived: the same rules as
    a DSN or ARF report, applied set-based to the whole batch (provider_batch); each receipt gets its outcome
    and loses its payload. Commits; counts per outcome."""
    result = WebhookResult()
    claimed = _claim_pending(limit)
    if not claimed:
        db.session.rollback()
        return result
    events = [ProviderEvent(**row.payload) for row in claimed]
    matched = _matched(events)
    items = [
        provider_batch.Item(row.provider, event, delivery)
        for row, event, delivery in zip(claimed, events, matched, strict=True)
        if delivery is not None
    ]
    provider_batch.apply_batch(items)
    for item in items:
        if item.outcome is None:  # an unsubscribe with no list to leave: everything, by the per-event rule
            acted = _unsubscribe(item.delivery, item.provider)
            item.outcome = "recorded" if acted.changed else "duplicate"
    outcomes = iter(item.outcome for item in items)
    done: list[dict] = []
    for row, event, delivery in zip(claimed, events, matched, strict=True):
        if delivery is None:
            outcome = "unmatched" if event.kind != OTHER else "ignored"
        else:
            outcome = next(outcomes) or "ignored"
        result.add(outcome, row.provider)
        delivery_id = delivery.id if delivery is not None else None
        done.append({"b_id": row.id, "b_outcome": outcome, "b_delivery": delivery_id})
    _record_outcomes(done)
    db.session.commit()
    log.info(
        "Provider events acted on: %s",
        ", ".join(f"{count} {outcome}" for outcome, count in sorted(result.counts.items())),
    )
    return result


def _record_outcomes(done: list[dict]) -> None:
    """Each claimed receipt's outcome and delivery, its payload cleared: one statement (on PostgreSQL the
    rows as one JSON parameter; executemany elsewhere)."""
    table = ProviderEventReceipt.__table__
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            text(
                "UPDATE provider_event_receipts AS r SET outcome = d.b_outcome, delivery_id = d.b_delivery, "
                "payload = NULL FROM json_to_recordset(CAST(:rows AS json)) "
                "AS d(b_id bigint, b_outcome varchar, b_delivery bigint) WHERE r.id = d.b_id"
            ),
            {"rows": json.dumps(done)},
        )
        return
    db.session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(outcome=bindparam("b_outcome"), delivery_id=bindparam("b_delivery"), payload=None),
        done,
    )


def process_all_pending(batch: int = 500) -> WebhookResult:
    """Drain the waiting events, `batch` per transaction; counts per outcome over all of them."""
    total = WebhookResult()
    while True:
        result = process_pending(batch)
        if not result.counts:
            return total
        for provider, counts in result.by_provider.items():
            for outcome, count in counts.items():
                for tally in (total.counts, total.by_provider.setdefault(provider, {})):
                    tally[outcome] = tally.get(outcome, 0) + count


@dataclass(frozen=True)
class ProviderActivity:
    """For the Deliverability page: the last event a provider sent and how many in the last day."""

    provider: str
    last_received_at: object = None
    events: int = 0


def provider_activity() -> dict[str, ProviderActivity]:
    """Per provider that ever sent us an event: when the last arrived and how many there were in total."""
    rows = db.session.execute(
        select(
            ProviderEventReceipt.provider,
            func.max(ProviderEventReceipt.received_at),
            func.count(),
        ).group_by(ProviderEventReceipt.provider)
    ).all()
    return {name: ProviderActivity(name, last, count) for name, last, count in rows}
