"""The sending engine (ARCHITECTURE.md "Sending pipeline"): plan deliveries, then send them batch by batch.

The planner pages eligible contacts by keyset and writes one INSERT per page plus one batch message (ids only).
A batch actor claims a chunk of its deliveries with one UPDATE (queued → sending), so a redelivered message
finds nothing left to send; re-checks eligibility at send time; renders, signs and sends each message over the
thread's persistent SMTP connection within the global rate; and writes the outcomes of the chunk in bulk.
A crash leaves at most one chunk in "sending": recovery reports those as uncertain, never resends them.
"""
import logging
import time
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import bindparam, func, insert, literal, select, update

from mailer.clock import utcnow
from mailer.extensions import db
from mailer.models import Campaign, Delivery
from mailer.sending import bounces
from mailer.sending.broker import enqueue, enqueue_after_commit
from mailer.sending.composer import composer_for
from mailer.sending.ratelimit import send_rate
from mailer.sending.transport import get_transport
from mailer.services import campaign_alerts, eligibility
from mailer.services.suppression import suppress

log = logging.getLogger(__name__)
DELIVERIES = Delivery.__table__
PLANNER_SECONDS_PER_MESSAGE = 300  # the planner hands over to a fresh message after this long
BATCH_MAX_SECONDS = 120  # a batch message hands over to a fresh one after this long (keeps time limits sane)
STATUS_CHECK_SECONDS = 1.0  # pause / cancel take effect within this long


# --- planning -------------------------------------------------------------------------------------------------

def plan_campaign(campaign_id: int) -> None:
    """Create deliveries and batch messages page by page; continues in a new message after a while."""
    size = min(current_app.config["SEND_BATCH_SIZE"], 2000)
    started = time.monotonic()
    while time.monotonic() - started < PLANNER_SECONDS_PER_MESSAGE:
        campaign = db.session.get(Campaign, campaign_id, populate_existing=True)
        if campaign is None or campaign.planning_done or campaign.status != "sending":
            db.session.rollback()
            return
        cursor = eligibility.next_page_bound(campaign_id, campaign.planned_through, size)
        if cursor is None:
            campaign.planning_done = True
            db.session.commit()
            finish_if_done(campaign_id)
            return
        batch = campaign.planned_batches + 1
        # The cursor moves only if nobody else moved it: a redelivered planner message loses this race cleanly.
        moved = db.session.execute(
            update(Campaign).where(Campaign.id == campaign_id, Campaign.planned_through == campaign.planned_through)
            .values(planned_through=cursor, progress_at=utcnow()).execution_options(synchronize_session=False)
        ).rowcount
        if not moved:
            db.session.rollback()
            return
        # One INSERT … SELECT per page: the rows never pass through Python, and the statement is cached.
        page = eligibility.eligible_in_range(campaign_id, campaign.planned_through, cursor).subquery()
        rows = select(literal(campaign_id), page.c.contact_id, page.c.list_id, literal(batch), literal("queued"),
                      literal(""), literal(""), literal(0), literal(utcnow()))
        db.session.execute(insert(DELIVERIES).from_select(
            ["campaign_id", "contact_id", "list_id", "batch", "status", "reason", "message_id", "attempts",
             "queued_at"], rows))
        created = db.session.execute(select(func.count()).where(  # rowcount of INSERT … SELECT is not portable
            DELIVERIES.c.campaign_id == campaign_id, DELIVERIES.c.batch == batch)).scalar()
        if created:
            db.session.execute(update(Campaign).where(Campaign.id == campaign_id)
                               .values(planned_batches=batch, open_deliveries=Campaign.open_deliveries + created)
                               .execution_options(synchronize_session=False))
            enqueue_after_commit(db.session, "send_batch", campaign_id, batch)
        db.session.commit()
    enqueue("plan_campaign", campaign_id)


# --- one batch ------------------------------------------------------------------------------------------------

@dataclass
class ChunkResult:
    """What happened to each claimed delivery of one chunk, written back in bulk."""

    sent: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    retry: list[dict] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    attempts: int = 0
    errors: int = 0
    policy: int = 0
    last_error: str = ""


class Control:
    """Re-reads the campaign's status at most once a second, so pause and cancel reach running batches fast."""

    def __init__(self, campaign_id: int, status: str):
        self.campaign_id = campaign_id
        self.status = status
        self.checked = time.monotonic()

    def stopped(self) -> bool:
        if time.monotonic() - self.checked >= STATUS_CHECK_SECONDS:
            self.status = db.session.execute(select(Campaign.status).where(Campaign.id == self.campaign_id)).scalar()
            db.session.commit()
            self.checked = time.monotonic()
        return self.status != "sending"


def chunk_size() -> int:
    """Deliveries to claim at once: at most SEND_CHUNK_SIZE, and no more than about a second's worth."""
    config = current_app.config
    rate = float(config.get("SEND_RATE_PER_SECOND") or 0)
    size = config["SEND_CHUNK_SIZE"]
    return max(1, min(size, int(rate))) if rate > 0 else size


def claim(campaign_id: int, batch: int, size: int) -> list[tuple[int, int, int | None, int]]:
    """Move up to `size` queued deliveries of a batch to "sending" in one UPDATE; return what this call got."""
    ids = (select(DELIVERIES.c.id).where(DELIVERIES.c.campaign_id == campaign_id, DELIVERIES.c.batch == batch,
                                         DELIVERIES.c.status == "queued").order_by(DELIVERIES.c.id).limit(size))
    rows = db.session.execute(
        update(DELIVERIES).where(DELIVERIES.c.id.in_(ids.scalar_subquery()), DELIVERIES.c.status == "queued")
        .values(status="sending", claimed_at=utcnow(), attempts=DELIVERIES.c.attempts + 1)
        .returning(DELIVERIES.c.id, DELIVERIES.c.contact_id, DELIVERIES.c.list_id, DELIVERIES.c.attempts)
    ).all()
    db.session.commit()
    return sorted(rows)


def send_batch(campaign_id: int, batch: int) -> None:
    """Send every queued delivery of one batch, chunk by chunk, until done, paused, cancelled or out of time."""
    campaign = db.session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None or campaign.status != "sending":
        db.session.rollback()
        return
    composer = composer_for(campaign)
    control = Control(campaign_id, campaign.status)
    db.session.commit()
    config = current_app.config
    started = time.monotonic()
    totals = ChunkResult()
    retry_attempts = 0
    while not control.stopped():
        claimed = claim(campaign_id, batch, chunk_size())
        if not claimed:
            break
        attempts_of = {row[0]: row[3] for row in claimed}
        result = ChunkResult()
        try:
            _send_chunk(campaign_id, composer, claimed, control, result)
        finally:
            _write_outcomes(campaign_id, result, attempts_of, config["SEND_MAX_ATTEMPTS"])
        again = [attempts_of[item["b_id"]] for item in result.retry
                 if attempts_of[item["b_id"]] < config["SEND_MAX_ATTEMPTS"]]
        retry_attempts = max([retry_attempts, *again])
        for name in ("attempts", "errors", "policy"):
            setattr(totals, name, getattr(totals, name) + getattr(result, name))
        totals.last_error = result.last_error or totals.last_error
        if _too_many_errors(campaign_id, totals):
            break
        if time.monotonic() - started > BATCH_MAX_SECONDS:
            enqueue("send_batch", campaign_id, batch)
            break
    if retry_attempts:
        delay_ms = int(min(config["SEND_RETRY_BACKOFF_SECONDS"] * 2 ** (retry_attempts - 1), 6 * 3600) * 1000)
        actor = current_app.extensions["mailer.workers"].actors["send_batch"]
        actor.send_with_options(args=(campaign_id, batch), delay=delay_ms or None)
    finish_if_done(campaign_id)


def _send_chunk(campaign_id: int, composer, claimed, control: Control, result: ChunkResult) -> None:
    """Re-check, build and send each claimed delivery, recording outcomes in `result`."""
    recipients = eligibility.recheck(campaign_id, [(d_id, c_id, l_id) for d_id, c_id, l_id, _ in claimed])
    db.session.commit()  # end the read transaction: nothing is held open while talking SMTP
    pipeline = get_transport().pipeline()
    rate = send_rate()
    tokens = 0
    pending = [r for r in recipients if not r.skip_reason]
    result.skipped = [{"b_id": r.delivery_id, "b_reason": r.skip_reason} for r in recipients if r.skip_reason]
    try:
        for index, rec in enumerate(pending):
            if tokens == 0:
                if rate.may_wait:  # never keep a server waiting in DATA while we wait for the rate
                    _record(pipeline.finish(), result)
                tokens = rate.acquire(len(pending) - index, control.stopped)
            if tokens == 0 or control.stopped():
                unsent = [r.delivery_id for r in pending[index:]]
                if control.status == "cancelled":
                    result.skipped += [{"b_id": d_id, "b_reason": "cancelled"} for d_id in unsent]
                else:
                    result.released = unsent
                return
            tokens -= 1
            try:
                built = composer.build(delivery_id=rec.delivery_id, contact_public_id=rec.public_id,
                                       list_id=rec.list_id, email=rec.email, name=rec.name,
                                       attributes=rec.attributes, track_opens=rec.track_opens,
                                       track_clicks=rec.track_clicks)
            except Exception as exc:  # noqa: BLE001 - a merge-field error fails this message, not the batch
                result.failed.append({"b_id": rec.delivery_id, "b_status": "failed", "b_code": None,
                                      "b_reason": f"could not build the message: {exc}"[:300], "hash": None})
                continue
            result.attempts += 1
            _record(pipeline.submit((rec, built.message_id), built.envelope_from, rec.email, built.raw,
                                    built.dot_safe), result)
    finally:
        _record(pipeline.finish(), result)  # the last message's content goes out even when stopping


def _record(outcomes: list[tuple], result: ChunkResult) -> None:
    """Sort the transport's outcomes (SMTP reply or exception per message) into the chunk's result."""
    for (rec, message_id), outcome in outcomes:
        if isinstance(outcome, Exception):
            _record_failure(rec, bounces.outcome_of(outcome), result)
        else:
            result.sent.append({"b_id": rec.delivery_id, "b_mid": message_id[:250], "b_code": outcome.code})


def _record_failure(rec, outcome: bounces.SmtpOutcome, result: ChunkResult) -> None:
    """Sort one failed attempt into retry / bounced / failed, and count it against the error budget."""
    item = {"b_id": rec.delivery_id, "b_code": outcome.code, "b_reason": outcome.describe(), "hash": rec.email_hash}
    if outcome.kind == bounces.HARD:
        result.failed.append(dict(item, b_status="bounced", b_reason=f"hard bounce: {outcome.describe()}"[:300]))
        return
    result.errors += 1
    result.last_error = outcome.describe()
    if outcome.retryable:
        result.retry.append(item)
    elif outcome.kind == bounces.POLICY:
        result.policy += 1
        log.error("Campaign message refused by policy (%s): check SPF, DKIM, DMARC and the relay's settings",
                  outcome.describe())
        result.failed.append(dict(item, b_status="failed",
                                  b_reason=f"refused by policy (our sending setup, not the address): "
                                           f"{outcome.describe()}"[:300]))
    else:
        result.failed.append(dict(item, b_status="failed"))


def _write_outcomes(campaign_id: int, result: ChunkResult, attempts_of: dict, max_attempts: int) -> None:
    """Write a chunk's outcomes: a few executemany UPDATEs and one commit."""
    now = utcnow()
    db.session.rollback()
    table = DELIVERIES
    by_id = (table.c.id == bindparam("b_id")) & (table.c.status == "sending")
    finished = 0
    if result.sent:
        finished += db.session.execute(update(table).where(by_id).values(
            status="sent", message_id=bindparam("b_mid"), smtp_code=bindparam("b_code"), reason="",
            finished_at=now), result.sent).rowcount
    if result.skipped:
        finished += db.session.execute(update(table).where(by_id).values(
            status="skipped", reason=bindparam("b_reason"), finished_at=now), result.skipped).rowcount
    gave_up = [dict(item, b_status="bounced" if "5.2.2" in item["b_reason"] else "failed",
                    b_reason=f"gave up after {attempts_of[item['b_id']]} attempts: {item['b_reason']}"[:300])
               for item in result.retry if attempts_of[item["b_id"]] >= max_attempts]
    retry = [dict(item, b_reason=f"will retry: {item['b_reason']}"[:300])
             for item in result.retry if attempts_of[item["b_id"]] < max_attempts]
    failed = result.failed + gave_up
    if failed:
        finished += db.session.execute(update(table).where(by_id).values(
            status=bindparam("b_status"), smtp_code=bindparam("b_code"), reason=bindparam("b_reason"),
            finished_at=now), [{k: v for k, v in item.items() if k != "hash"} for item in failed]).rowcount
        for item in failed:
            if item["b_status"] == "bounced" and item["b_reason"].startswith("hard bounce") and item.get("hash"):
                suppress(item["hash"], "hard_bounce")
    if retry:
        db.session.execute(update(table).where(by_id).values(
            status="queued", smtp_code=bindparam("b_code"), reason=bindparam("b_reason")),
            [{k: v for k, v in item.items() if k != "hash"} for item in retry])
    if result.released:
        db.session.execute(update(table).where(table.c.id.in_(result.released), table.c.status == "sending")
                           .values(status="queued", attempts=table.c.attempts - 1))
    db.session.execute(update(Campaign).where(Campaign.id == campaign_id)
                       .values(progress_at=now, open_deliveries=Campaign.open_deliveries - finished)
                       .execution_options(synchronize_session=False))
    db.session.commit()


def _too_many_errors(campaign_id: int, totals: ChunkResult) -> bool:
    """Pause the campaign itself when most attempts fail, or our setup is being refused (5.7.x)."""
    config = current_app.config
    reason = ""
    if totals.policy >= config["SEND_POLICY_PAUSE"]:
        reason = (f"Paused automatically: the receiving servers refused {totals.policy} messages for policy reasons "
                  f"(last answer: {totals.last_error}). Check SPF, DKIM, DMARC and the relay, then resume.")
    elif (totals.errors >= config["SEND_ERROR_PAUSE_MIN"]
          and totals.errors >= config["SEND_ERROR_PAUSE_RATIO"] * totals.attempts):
        reason = (f"Paused automatically: {totals.errors} of the last {totals.attempts} messages failed "
                  f"(last answer: {totals.last_error}). Fix the cause, then resume.")
    if not reason:
        return False
    paused = db.session.execute(update(Campaign).where(Campaign.id == campaign_id, Campaign.status == "sending")
                                .values(status="paused", status_reason=reason)
                                .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if paused:
        log.error("Campaign %s: %s", campaign_id, reason)
        campaign_alerts.paused_automatically(campaign_id, policy=totals.policy >= config["SEND_POLICY_PAUSE"])
    return True


def finish_if_done(campaign_id: int) -> bool:
    """Mark the campaign sent once planning is over and every delivery is final (never earlier).

    One row read: Campaign.open_deliveries counts the queued and sending deliveries, so the check costs the same
    for ten recipients or a million (scanning the deliveries' status index slowed down as a big send went on).
    """
    done = db.session.execute(
        update(Campaign).where(Campaign.id == campaign_id, Campaign.status == "sending",
                               Campaign.planning_done.is_(True), Campaign.open_deliveries == 0)
        .values(status="sent", finished_at=utcnow(), waiting_reason="", waiting_until=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(done)


def count_open(campaign_id: int, delta: int) -> None:
    """Add to the campaign's open deliveries, in the transaction that opened (+) or finished (-) them."""
    if delta:
        db.session.execute(update(Campaign).where(Campaign.id == campaign_id)
                           .values(open_deliveries=Campaign.open_deliveries + delta)
                           .execution_options(synchronize_session=False))


def requeue_uncertain(campaign_id: int, delivery_ids: list[int] | None = None) -> int:
    """Queue the campaign's uncertain deliveries (all, or those ids) to be sent again; returns how many.

    An operator's explicit decision (the recipient may get the message twice). A campaign already "sent" goes back
    to "sending"; a paused one sends them when resumed. The caller audits and commits; the batch messages leave
    after that commit. A cancelled campaign sends nothing more, so it is refused.
    """
    from mailer.services.rendering import CampaignError

    campaign = db.session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None or campaign.status not in ("sending", "paused", "sent"):
        status = campaign.status if campaign is not None else "gone"
        raise CampaignError(f"This campaign is {status}; its uncertain deliveries can't be sent again.")
    if delivery_ids is not None and not delivery_ids:
        return 0
    query = update(DELIVERIES).where(DELIVERIES.c.campaign_id == campaign_id, DELIVERIES.c.status == "uncertain")
    if delivery_ids is not None:
        query = query.where(DELIVERIES.c.id.in_(delivery_ids))
    batches = db.session.execute(query.values(
        status="queued", reason="sent again by an operator's decision (it was uncertain)", worker_id=None,
        handed_at=None, not_before_at=None, finished_at=None, claimed_at=None).returning(DELIVERIES.c.batch)
    ).scalars().all()
    if not batches:
        return 0
    count_open(campaign_id, len(batches))
    if campaign.status == "sent":
        db.session.execute(update(Campaign).where(Campaign.id == campaign_id, Campaign.status == "sent")
                           .values(status="sending", finished_at=None, progress_at=utcnow())
                           .execution_options(synchronize_session=False))
    db.session.refresh(campaign)
    if campaign.status == "sending":
        for batch in sorted(set(batches)):
            enqueue_after_commit(db.session, "send_batch", campaign_id, batch)
    return len(batches)


# --- test sends -----------------------------------------------------------------------------------------------

def send_test_messages(campaign_id: int, addresses: list[str]) -> int:
    """Build each test message exactly as a real one (DKIM, transport), marked as a test; returns how many went."""
    from mailer.sending.composer import Composer
    from mailer.services.contacts import find_contact_by_email
    from mailer.services.rendering import SAMPLE_CONTACT, compile_campaign

    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        return 0
    composer = Composer(campaign, compile_campaign(campaign), test=True)
    list_id = campaign.lists[0].id if campaign.lists else None
    transport = get_transport()
    sent = 0
    for address in addresses:
        contact = find_contact_by_email(address)
        if contact is not None and contact.status == "active":
            who = {"contact_public_id": contact.public_id, "name": contact.name, "attributes": contact.attributes}
        else:
            who = {"contact_public_id": "test", "name": SAMPLE_CONTACT["name"], "attributes": {}}
        built = composer.build(delivery_id=None, list_id=list_id, email=address, **who)
        transport.send(built.envelope_from, [address], built.raw, subject=built.subject,
                       message_id=built.message_id, category="marketing")
        sent += 1
    db.session.commit()
    return sent
