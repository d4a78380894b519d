"""The sending engine (ARCHITECTURE.md "Sending pipeline"): plan deliveries, then send them batch by batch.

The planner asks the recipient store (mailer.delivery.store) for pages of eligible recipients and writes one
INSERT per page plus one batch message (ids only). A batch run (batch.py) claims small chunks of its
deliveries with one UPDATE each (queued → sending, with the worker's id), so a redelivered message finds
nothing left to send; has the store re-check eligibility at send time; and sends group by group, each group
marked handed to the relay just before it goes. Recovery (recovery.py) gives a dead worker's claimed
deliveries back to the queue and reports only its handed-over ones as uncertain. The engine reports outcomes
to the store; it never decides the campaign's status itself.
"""

import logging
import random
import time
from datetime import datetime
from typing import Any, cast

from dramatiq.errors import DramatiqError
from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import CursorResult, String, func, insert, literal, select, update

from mailer.core.broker import enqueue, enqueue_after_commit
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.sentences import N_, Sentence
from mailer.delivery import heartbeat
from mailer.delivery.batch import BatchRun, Control, Totals
from mailer.delivery.claims import durably, earliest_retry
from mailer.delivery.failover import relay_route
from mailer.delivery.models import Delivery, DeliveryStatus
from mailer.delivery.store import RecipientStore

log = logging.getLogger(__name__)
DELIVERIES = Delivery.__table__
PLANNER_SECONDS_PER_MESSAGE = 300  # the planner hands over to a fresh message after this long
BATCH_MAX_SECONDS = 120  # a batch message hands over to a fresh one after this long (keeps time limits sane)


# --- planning -----------------------------------------------------------------------------------------------


def plan(store: RecipientStore, campaign_id: int) -> None:
    """Create deliveries and batch messages page by page; continues in a new message after a while."""
    size = min(current_app.config["SEND_BATCH_SIZE"], 2000)
    started = time.monotonic()
    while time.monotonic() - started < PLANNER_SECONDS_PER_MESSAGE:
        page = store.next_page(campaign_id, size)
        if page is None:  # planning is over (or stopped, or another message moved the cursor first)
            db.session.commit()
            finish_if_done(store, campaign_id)
            return
        # One INSERT … SELECT per page: the rows never pass through Python, and the statement is cached.
        chosen = page.recipients.subquery()
        _insert_queued(
            campaign_id,
            select(
                chosen.c.contact_id,
                chosen.c.list_id,
                literal(page.batch),
                *(literal(value) for value in page.values.values()),
            ),
            ["batch", *page.values],
        )
        created = db.session.execute(
            select(func.count()).where(  # rowcount of INSERT … SELECT is not portable
                DELIVERIES.c.campaign_id == campaign_id, DELIVERIES.c.batch == page.batch
            )
        ).scalar_one()
        if created:
            store.planned(campaign_id, page.batch, created)
            enqueue_after_commit(db.session, store.batch_actor, campaign_id, page.batch)
        db.session.commit()
    enqueue(store.plan_actor, campaign_id)


def _insert_queued(campaign_id: int, rows: Any, columns: list[str]) -> None:
    """INSERT … SELECT queued deliveries: `rows` selects contact_id, list_id and then `columns`."""
    chosen = rows.subquery()
    db.session.execute(
        insert(DELIVERIES).from_select(
            [
                "campaign_id",
                "contact_id",
                "list_id",
                *columns,
                "status",
                "reason",
                "message_id",
                "attempts",
                "queued_at",
            ],
            select(
                literal(campaign_id),
                *chosen.c,
                literal(DeliveryStatus.QUEUED.value, String),
                literal(""),
                literal(""),
                literal(0),
                literal(utcnow()),
            ),
        )
    )


def plan_rows(campaign_id: int, rows: Any) -> dict[int, int]:
    """Queue deliveries for a SELECT of (contact_id, list_id, batch, variant) in one statement; the batch
    messages are the caller's to queue. Returns {batch: deliveries created} (used by an A/B test's share)."""
    _insert_queued(campaign_id, rows, ["batch", "variant"])
    counts = db.session.execute(
        select(DELIVERIES.c.batch, func.count())
        .where(DELIVERIES.c.campaign_id == campaign_id)
        .group_by(DELIVERIES.c.batch)
    ).all()
    return dict(counts)


# --- one batch ----------------------------------------------------------------------------------------------


def send_batch(store: RecipientStore, campaign_id: int, batch: int) -> None:
    """Send the due deliveries of one batch (batch.py), then queue what comes next for it."""
    state = store.sending_state(campaign_id)
    if state is None or not state.sending:
        db.session.rollback()
        return
    control = Control(store, campaign_id, state)
    if control.waiting():  # the relay is down: come back when the campaign's wait is over
        db.session.rollback()
        _send_later(store, campaign_id, batch, control.waiting_until)
        return
    composer = store.composer(campaign_id, batch)
    route = relay_route(state.relay_id, state.failover_relay_id)  # None: the default relay alone
    db.session.commit()
    run = BatchRun(store, campaign_id, batch, composer, control, heartbeat.worker_id(), route)
    ended = run.run(BATCH_MAX_SECONDS, lambda totals: bool(refusal_reason(totals)))
    log.info(
        "Batch %s of campaign %s ended (%s): %d messages handed to the relay, %d refused",
        batch,
        campaign_id,
        ended,
        run.totals.attempts,
        run.totals.errors,
    )
    if ended == "errors":
        store.refused_too_often(campaign_id, refusal_reason(run.totals), policy=_policy(run.totals))
    elif ended == "time":
        _send_later(store, campaign_id, batch, None)
    elif ended == "relay":
        _send_later(store, campaign_id, batch, run.relay_wait or control.waiting_until)
    elif ended == "done" and not control.stopped():
        due = durably(lambda: earliest_retry(campaign_id, batch), "looking for retries")
        if due is not None:
            _send_later(store, campaign_id, batch, due)
    durably(lambda: finish_if_done(store, campaign_id), "finishing the campaign")


def _send_later(store: RecipientStore, campaign_id: int, batch: int, when: datetime | None) -> None:
    """Queue this batch again (at `when`); if the broker is unreachable, recovery re-queues it later."""
    delay_ms = None
    if when is not None:
        delay_ms = max(0, int((when - utcnow()).total_seconds() * 1000)) + random.randint(0, 500) or None
    actor = current_app.extensions["mailer.workers"].actors[store.batch_actor]
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


def _policy(totals: Totals) -> bool:
    return totals.policy >= current_app.config["SEND_POLICY_PAUSE"]


# A campaign's status reason when the engine pauses it (stored in English, shown translated; the alerts
# recognise an automatic pause by its first words).
PAUSED_FOR_POLICY = Sentence(
    N_(
        "Paused automatically: the receiving servers refused %(count)s messages for policy reasons (last "
        "answer: %(answer)s). Check SPF, DKIM, DMARC and the relay, then resume."
    )
)
PAUSED_FOR_ERRORS = Sentence(
    N_(
        "Paused automatically: %(errors)s of the last %(attempts)s messages were refused (last answer: "
        "%(answer)s). Fix the cause, then resume."
    )
)


def refusal_reason(totals: Totals) -> str:
    """Why the campaign should stop, when most messages are refused for good or our setup is refused (5.7.x).

    Only permanent and policy refusals count: temporary ones wait per delivery, a silent relay makes it wait.
    """
    config = current_app.config
    if _policy(totals):
        return PAUSED_FOR_POLICY(count=totals.policy, answer=totals.last_error)
    if (
        totals.errors >= config["SEND_ERROR_PAUSE_MIN"]
        and totals.errors >= config["SEND_ERROR_PAUSE_RATIO"] * totals.attempts
    ):
        return PAUSED_FOR_ERRORS(errors=totals.errors, attempts=totals.attempts, answer=totals.last_error)
    return ""


def finish_if_done(store: RecipientStore, campaign_id: int) -> bool:
    """Report to the store that the campaign may be done, and commit (the store decides; one row read).

    Campaign.open_deliveries counts the queued and sending deliveries, so the check costs the same for ten
    recipients or a million (scanning the deliveries' status index slowed down as a big send went on).
    """
    done = store.finish_if_done(campaign_id)
    db.session.commit()
    return done


def requeue_uncertain(campaign_id: int, delivery_ids: list[int] | None = None) -> list[int]:
    """Queue the campaign's uncertain deliveries (all, or those ids) again; the batch of each one requeued.

    An operator's explicit decision (the recipient may get the message twice), made by the caller.
    """
    query = update(DELIVERIES).where(
        DELIVERIES.c.campaign_id == campaign_id, DELIVERIES.c.status == DeliveryStatus.UNCERTAIN
    )
    if delivery_ids is not None:
        query = query.where(DELIVERIES.c.id.in_(delivery_ids))
    return list(
        db.session.execute(
            query.values(
                status=DeliveryStatus.QUEUED,
                reason="sent again by an operator's decision (it was uncertain)",
                worker_id=None,
                handed_at=None,
                not_before_at=None,
                finished_at=None,
                claimed_at=None,
            ).returning(DELIVERIES.c.batch)
        ).scalars()
    )


def skip_queued(campaign_id: int, reason: str) -> int:
    """Skip every still-queued delivery of the campaign (it was cancelled); how many."""
    result = db.session.execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.campaign_id == campaign_id, DELIVERIES.c.status == DeliveryStatus.QUEUED)
        .values(status=DeliveryStatus.SKIPPED, reason=reason, finished_at=utcnow())
    )
    return cast(CursorResult[Any], result).rowcount
