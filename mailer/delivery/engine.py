"""The sending engine (ARCHITECTURE.md "Sending pipeline"): plan deliveries, then send them batch by batch.

The planner pages eligible contacts by keyset and writes one INSERT per page plus one batch message (ids only).
A batch actor (mailer/sending/batch.py) claims small chunks of its deliveries with one UPDATE each (queued →
sending, with the worker's id), so a redelivered message finds nothing left to send; re-checks eligibility at send
time; and sends group by group, each group marked handed to the relay just before it goes. Recovery
(mailer/sending/recovery.py) gives a dead worker's claimed deliveries back to the queue and reports only its
handed-over ones as uncertain. Campaign.open_deliveries makes "is the campaign done?" one row read.
"""

import logging
import random
import time
from datetime import datetime

from dramatiq.errors import DramatiqError
from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import func, insert, literal, select, update

from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.campaigns.models import Campaign
from mailer.delivery.models import Delivery
from mailer.delivery import heartbeat
from mailer.delivery.batch import BatchRun, Control, Totals
from mailer.core.broker import enqueue, enqueue_after_commit
from mailer.delivery.claims import durably, earliest_retry
from mailer.campaigns.composition import composer_for
from mailer.campaigns import alerts as campaign_alerts, eligibility

log = logging.getLogger(__name__)
DELIVERIES = Delivery.__table__
PLANNER_SECONDS_PER_MESSAGE = 300  # the planner hands over to a fresh message after this long
BATCH_MAX_SECONDS = 120  # a batch message hands over to a fresh one after this long (keeps time limits sane)


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
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.planned_through == campaign.planned_through)
            .values(planned_through=cursor, progress_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        if not moved:
            db.session.rollback()
            return
        # One INSERT … SELECT per page: the rows never pass through Python, and the statement is cached.
        page = eligibility.eligible_in_range(campaign_id, campaign.planned_through, cursor).subquery()
        rows = select(
            literal(campaign_id),
            page.c.contact_id,
            page.c.list_id,
            literal(batch),
            literal("queued"),
            literal(""),
            literal(""),
            literal(0),
            literal(utcnow()),
        )
        db.session.execute(
            insert(DELIVERIES).from_select(
                [
                    "campaign_id",
                    "contact_id",
                    "list_id",
                    "batch",
                    "status",
                    "reason",
                    "message_id",
                    "attempts",
                    "queued_at",
                ],
                rows,
            )
        )
        created = db.session.execute(
            select(func.count()).where(  # rowcount of INSERT … SELECT is not portable
                DELIVERIES.c.campaign_id == campaign_id, DELIVERIES.c.batch == batch
            )
        ).scalar()
        if created:
            db.session.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id)
                .values(planned_batches=batch, open_deliveries=Campaign.open_deliveries + created)
                .execution_options(synchronize_session=False)
            )
            enqueue_after_commit(db.session, "send_batch", campaign_id, batch)
        db.session.commit()
    enqueue("plan_campaign", campaign_id)


# --- one batch ------------------------------------------------------------------------------------------------


def send_batch(campaign_id: int, batch: int) -> None:
    """Send the due deliveries of one batch (mailer/sending/batch.py), then queue what comes next for it."""
    campaign = db.session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None or campaign.status != "sending":
        db.session.rollback()
        return
    control = Control(campaign_id, campaign.status, campaign.waiting_until)
    if control.waiting():  # the relay is down: come back when the campaign's wait is over
        db.session.rollback()
        _send_later(campaign_id, batch, control.waiting_until)
        return
    composer = composer_for(campaign)
    db.session.commit()
    run = BatchRun(campaign_id, batch, composer, control, heartbeat.worker_id())
    ended = run.run(BATCH_MAX_SECONDS, lambda totals: _too_many_errors(campaign_id, totals, pause=False))
    if ended == "errors":
        _too_many_errors(campaign_id, run.totals)
    elif ended == "time":
        _send_later(campaign_id, batch, None)
    elif ended == "relay":
        _send_later(campaign_id, batch, run.relay_wait or control.waiting_until)
    elif ended == "done" and not control.stopped():
        due = durably(lambda: earliest_retry(campaign_id, batch), "looking for retries")
        if due is not None:
            _send_later(campaign_id, batch, due)
    durably(lambda: finish_if_done(campaign_id), "finishing the campaign")


def _send_later(campaign_id: int, batch: int, when: datetime | None) -> None:
    """Queue this batch again (at `when`); if the broker is unreachable, recovery re-queues stalled campaigns."""
    delay_ms = None
    if when is not None:
        delay_ms = max(0, int((when - utcnow()).total_seconds() * 1000)) + random.randint(0, 500) or None
    actor = current_app.extensions["mailer.workers"].actors["send_batch"]
    for attempt in range(5):
        try:
            actor.send_with_options(args=(campaign_id, batch), delay=delay_ms)
            return
        except (RedisError, DramatiqError) as exc:
            log.warning("Could not queue batch %s of campaign %s (%s); trying again", batch, campaign_id, exc)
            time.sleep(0.5 * 2**attempt)
    log.error(
        "Batch %s of campaign %s not re-queued: the broker is unreachable (recovery will re-queue it)",
        batch,
        campaign_id,
    )


def _too_many_errors(campaign_id: int, totals: Totals, pause: bool = True) -> bool:
    """Pause the campaign itself when most messages are refused for good, or our setup is refused (5.7.x).

    Only permanent and policy refusals count: temporary ones wait per delivery, a silent relay makes it wait.
    """
    config = current_app.config
    reason = ""
    if totals.policy >= config["SEND_POLICY_PAUSE"]:
        reason = (
            f"Paused automatically: the receiving servers refused {totals.policy} messages for policy reasons "
            f"(last answer: {totals.last_error}). Check SPF, DKIM, DMARC and the relay, then resume."
        )
    elif (
        totals.errors >= config["SEND_ERROR_PAUSE_MIN"]
        and totals.errors >= config["SEND_ERROR_PAUSE_RATIO"] * totals.attempts
    ):
        reason = (
            f"Paused automatically: {totals.errors} of the last {totals.attempts} messages were refused "
            f"(last answer: {totals.last_error}). Fix the cause, then resume."
        )
    if not reason or not pause:
        return bool(reason)

    def work():
        changed = db.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status == "sending")
            .values(status="paused", status_reason=reason, waiting_reason="", waiting_until=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
        return changed

    if durably(work, "pausing the campaign"):
        log.error("Campaign %s: %s", campaign_id, reason)
        campaign_alerts.paused_automatically(campaign_id, policy=totals.policy >= config["SEND_POLICY_PAUSE"])
    return True


def finish_if_done(campaign_id: int) -> bool:
    """Mark the campaign sent once planning is over and every delivery is final (never earlier).

    One row read: Campaign.open_deliveries counts the queued and sending deliveries, so the check costs the same
    for ten recipients or a million (scanning the deliveries' status index slowed down as a big send went on).
    """
    done = db.session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.status == "sending",
            Campaign.planning_done.is_(True),
            Campaign.open_deliveries == 0,
        )
        .values(status="sent", finished_at=utcnow(), waiting_reason="", waiting_until=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(done)


def count_open(campaign_id: int, delta: int) -> None:
    """Add to the campaign's open deliveries, in the transaction that opened (+) or finished (-) them."""
    if delta:
        db.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(open_deliveries=Campaign.open_deliveries + delta)
            .execution_options(synchronize_session=False)
        )


def requeue_uncertain(campaign_id: int, delivery_ids: list[int] | None = None) -> int:
    """Queue the campaign's uncertain deliveries (all, or those ids) to be sent again; returns how many.

    An operator's explicit decision (the recipient may get the message twice). A campaign already "sent" goes back
    to "sending"; a paused one sends them when resumed. The caller audits and commits; the batch messages leave
    after that commit. A cancelled campaign sends nothing more, so it is refused.
    """
    from mailer.campaigns.rendering import CampaignError

    campaign = db.session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None or campaign.status not in ("sending", "paused", "sent"):
        status = campaign.status if campaign is not None else "gone"
        raise CampaignError(f"This campaign is {status}; its uncertain deliveries can't be sent again.")
    if delivery_ids is not None and not delivery_ids:
        return 0
    query = update(DELIVERIES).where(
        DELIVERIES.c.campaign_id == campaign_id, DELIVERIES.c.status == "uncertain"
    )
    if delivery_ids is not None:
        query = query.where(DELIVERIES.c.id.in_(delivery_ids))
    batches = (
        db.session.execute(
            query.values(
                status="queued",
                reason="sent again by an operator's decision (it was uncertain)",
                worker_id=None,
                handed_at=None,
                not_before_at=None,
                finished_at=None,
                claimed_at=None,
            ).returning(DELIVERIES.c.batch)
        )
        .scalars()
        .all()
    )
    if not batches:
        return 0
    count_open(campaign_id, len(batches))
    if campaign.status == "sent":
        db.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status == "sent")
            .values(status="sending", finished_at=None, progress_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    db.session.refresh(campaign)
    if campaign.status == "sending":
        for batch in sorted(set(batches)):
            enqueue_after_commit(db.session, "send_batch", campaign_id, batch)
    return len(batches)
