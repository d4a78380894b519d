"""Recovery (the scheduler runs it every SEND_RECOVERY_SECONDS): dead workers' deliveries, stalled and
finished campaigns.

A sending worker whose heartbeat is older than SEND_WORKER_DEAD_AFTER_SECONDS is dead. What it had claimed but
not handed to the relay goes back to the queue at once (its attempt given back) and its batch is queued again;
what it had handed over without an answer becomes "uncertain" — the relay may have it, so it is never resent
on its own. A campaign whose last open deliveries these were is finished in the same step.
"""

import logging
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, false, func, select, update

from mailer.core.broker import enqueue_after_commit
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery import heartbeat
from mailer.delivery.models import Delivery, DeliveryStatus, SendWorker
from mailer.delivery.store import RecipientStore

log = logging.getLogger(__name__)
DELIVERIES = Delivery.__table__
UNCERTAIN_REASON = (
    "uncertain: the worker stopped during the SMTP transaction; the message may or may not have "
    "gone out (not resent)"
)
STALL_SECONDS = (
    30  # a sending campaign with due deliveries and no progress this long has lost its batch messages
)
BACKSTOP_SECONDS = 60
_LAST_BACKSTOP = [0.0]  # monotonic time of this process's last backstop pass
_OTHER_STORES: list[RecipientStore] = []  # also_recover


def recover(store: RecipientStore, stuck_after_s: float | None = None, scheduled: bool = False) -> dict:
    """Release and report what dead (or hopelessly stuck) workers held; re-queue stalled campaigns; finish."""
    config = current_app.config
    now = utcnow()
    stuck_after = now - timedelta(
        seconds=config["SEND_STUCK_AFTER_SECONDS"] if stuck_after_s is None else stuck_after_s
    )
    if scheduled:  # this process is a live worker: its own heartbeat shows the database works for everyone
        heartbeat.worker_id()
    dead = _dead_workers(now, timedelta(seconds=config["SEND_WORKER_DEAD_AFTER_SECONDS"]))
    # A live worker's thread never holds a delivery this long; rows without a worker predate heartbeats.
    # Looking for those reads the campaigns' "sending" index entries, so the scheduler's runs do it once a
    # minute.
    backstop = not scheduled or time.monotonic() - _LAST_BACKSTOP[0] >= BACKSTOP_SECONDS
    if not dead and not backstop:
        return _finish_run(store, now, [], [], dead)
    if backstop:
        _LAST_BACKSTOP[0] = time.monotonic()
    stuck_cutoff = stuck_after if backstop else None
    released, uncertain = _release(store, dead, stuck_cutoff, now)
    for other in _OTHER_STORES:  # a dead worker's rows are released for every store before it is forgotten
        if other is not store:
            more_released, more_uncertain = _release(other, dead, stuck_cutoff, now)
            released, uncertain = [*released, *more_released], [*uncertain, *more_uncertain]
    if dead:
        db.session.execute(
            delete(SendWorker).where(
                SendWorker.id.in_(dead),
                SendWorker.heartbeat_at < now - timedelta(seconds=config["SEND_WORKER_DEAD_AFTER_SECONDS"]),
            )
        )
    db.session.commit()
    if released or uncertain:
        log.warning(
            "Recovery: %d deliveries of stopped workers queued again, %d uncertain",
            len(released),
            len(uncertain),
        )
    return _finish_run(store, now, released, uncertain, dead)


def _release(
    store: RecipientStore, dead: list[str], stuck_cutoff: datetime | None, now: datetime
) -> tuple[list[Any], list[Any]]:
    """Queue again what dead (or stuck) workers claimed of this store's campaigns; handed: uncertain."""
    # Only campaigns that can still have work in flight, so the (campaign, status) index serves every run.
    in_flight = DELIVERIES.c.campaign_id.in_(store.in_flight().scalar_subquery())
    sending = in_flight & (DELIVERIES.c.status == DeliveryStatus.SENDING)
    of_dead = DELIVERIES.c.worker_id.in_(dead)
    stuck = (DELIVERIES.c.claimed_at <= stuck_cutoff) if stuck_cutoff is not None else false()
    released = db.session.execute(
        update(DELIVERIES)
        .where(
            sending, DELIVERIES.c.handed_at.is_(None), DELIVERIES.c.worker_id.is_not(None), of_dead | stuck
        )
        .values(status=DeliveryStatus.QUEUED, attempts=DELIVERIES.c.attempts - 1, worker_id=None, reason="")
        .returning(DELIVERIES.c.campaign_id, DELIVERIES.c.batch)
    ).all()
    uncertain = (
        db.session.execute(
            update(DELIVERIES)
            .where(
                sending,
                (DELIVERIES.c.handed_at.is_not(None) & of_dead)
                | (stuck & (DELIVERIES.c.handed_at.is_not(None) | DELIVERIES.c.worker_id.is_(None))),
            )
            .values(status=DeliveryStatus.UNCERTAIN, finished_at=now, reason=UNCERTAIN_REASON)
            .returning(DELIVERIES.c.campaign_id)
        )
        .scalars()
        .all()
    )
    for campaign_id, finished in Counter(uncertain).items():
        store.count_open(campaign_id, -finished)
    for campaign_id, batch in sorted(set(released)):
        enqueue_after_commit(db.session, store.batch_actor, campaign_id, batch)
    return list(released), list(uncertain)


def also_recover(store: RecipientStore) -> None:
    """Another recipient store (journeys) whose dead workers' deliveries every recovery run releases too.

    Connected by the app factory: delivery sits below the stores and never imports them.
    """
    if store not in _OTHER_STORES:
        _OTHER_STORES.append(store)


def _dead_workers(now, silence: timedelta) -> list[str]:
    """Workers silent for `silence` while another worker beat since (or silent six times as long).

    After a database outage every heartbeat is equally old; nobody is declared dead until the living have
    beaten.
    """
    newest = db.session.execute(select(func.max(SendWorker.heartbeat_at))).scalar()
    if newest is None:
        return []
    cutoff = min(now - silence, max(newest - silence, now - 6 * silence))
    return list(db.session.execute(select(SendWorker.id).where(SendWorker.heartbeat_at < cutoff)).scalars())


def _finish_run(
    store: RecipientStore, now: datetime, released: Sequence[Any], uncertain: Sequence[Any], dead: list[str]
) -> dict:
    requeued = _requeue_stalled(store, now)
    for other in _OTHER_STORES:
        if other is not store:
            requeued += _requeue_stalled(other, now)
    finished = finish_done_campaigns(store)
    return {
        "uncertain": len(uncertain),
        "released": len(released),
        "dead_workers": len(dead),
        "requeued_campaigns": requeued,
        "finished_campaigns": finished,
    }


def _requeue_stalled(store: RecipientStore, now: datetime) -> list[int]:
    """Queue batch messages again for sending campaigns with due deliveries but no progress (lost)."""
    overdue = (DELIVERIES.c.status == DeliveryStatus.QUEUED) & (
        DELIVERIES.c.not_before_at.is_(None) | (DELIVERIES.c.not_before_at <= now - timedelta(seconds=5))
    )
    requeued = []
    for campaign_id, planning_done in store.stalled(now, now - timedelta(seconds=STALL_SECONDS)):
        if not planning_done:
            enqueue_after_commit(db.session, store.plan_actor, campaign_id)
        batches = (
            db.session.execute(
                select(DELIVERIES.c.batch).where(DELIVERIES.c.campaign_id == campaign_id, overdue).distinct()
            )
            .scalars()
            .all()
        )
        for batch in sorted(batches):
            enqueue_after_commit(db.session, store.batch_actor, campaign_id, batch)
        requeued.append(campaign_id)
    db.session.commit()
    return requeued


def finish_done_campaigns(store: RecipientStore) -> list[int]:
    """Report to the store that campaigns may be done (no scan of the deliveries), and commit."""
    ids = store.finish_done()
    db.session.commit()
    return ids
