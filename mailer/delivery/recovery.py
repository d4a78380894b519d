"""Recovery (the scheduler runs it every SEND_RECOVERY_SECONDS): dead workers' deliveries, stalled and finished
campaigns.

A sending worker whose heartbeat is older than SEND_WORKER_DEAD_AFTER_SECONDS is dead. What it had claimed but not
handed to the relay goes back to the queue at once (its attempt given back) and its batch is queued again; what it
had handed over without an answer becomes "uncertain" — the relay may have it, so it is never resent on its own.
A campaign whose last open deliveries these were is finished in the same step.
"""

import logging
import time
from collections import Counter
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, false, func, select, update

from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.campaigns.models import Campaign
from mailer.delivery.models import Delivery, SendWorker
from mailer.delivery import heartbeat
from mailer.core.broker import enqueue_after_commit
from mailer.delivery.engine import count_open

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


def recover(stuck_after_s: float | None = None, scheduled: bool = False) -> dict:
    """Release and report what dead (or hopelessly stuck) workers held; re-queue stalled campaigns; finish done ones."""
    config = current_app.config
    now = utcnow()
    stuck_cutoff = now - timedelta(
        seconds=config["SEND_STUCK_AFTER_SECONDS"] if stuck_after_s is None else stuck_after_s
    )
    if scheduled:  # this process is a live worker: its own heartbeat shows the database works for everyone
        heartbeat.worker_id()
    dead = _dead_workers(now, timedelta(seconds=config["SEND_WORKER_DEAD_AFTER_SECONDS"]))
    # Only campaigns that can still have work in flight, so the (campaign, status) index serves every run.
    in_flight = DELIVERIES.c.campaign_id.in_(
        select(Campaign.id).where(
            Campaign.status.in_(("sending", "paused"))
            | ((Campaign.status == "cancelled") & (Campaign.finished_at >= now - timedelta(days=1)))
        )
    )
    sending = in_flight & (DELIVERIES.c.status == "sending")
    of_dead = DELIVERIES.c.worker_id.in_(dead)
    # A live worker's thread never holds a delivery this long; rows without a worker predate heartbeats. Looking
    # for those reads the campaigns' "sending" index entries, so the scheduler's runs do it once a minute.
    backstop = not scheduled or time.monotonic() - _LAST_BACKSTOP[0] >= BACKSTOP_SECONDS
    if not dead and not backstop:
        return _finish_run(now, [], [], dead)
    if backstop:
        _LAST_BACKSTOP[0] = time.monotonic()
    stuck = (DELIVERIES.c.claimed_at <= stuck_cutoff) if backstop else false()
    released = db.session.execute(
        update(DELIVERIES)
        .where(
            sending, DELIVERIES.c.handed_at.is_(None), DELIVERIES.c.worker_id.is_not(None), of_dead | stuck
        )
        .values(status="queued", attempts=DELIVERIES.c.attempts - 1, worker_id=None, reason="")
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
            .values(status="uncertain", finished_at=now, reason=UNCERTAIN_REASON)
            .returning(DELIVERIES.c.campaign_id)
        )
        .scalars()
        .all()
    )
    for campaign_id, finished in Counter(uncertain).items():
        count_open(campaign_id, -finished)
    for campaign_id, batch in sorted(set(released)):
        enqueue_after_commit(db.session, "send_batch", campaign_id, batch)
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
    return _finish_run(now, released, uncertain, dead)


def _dead_workers(now, silence: timedelta) -> list[str]:
    """Workers silent for `silence` while another worker beat since (or silent six times as long).

    After a database outage every heartbeat is equally old; nobody is declared dead until the living have beaten.
    """
    newest = db.session.execute(select(func.max(SendWorker.heartbeat_at))).scalar()
    if newest is None:
        return []
    cutoff = min(now - silence, max(newest - silence, now - 6 * silence))
    return list(db.session.execute(select(SendWorker.id).where(SendWorker.heartbeat_at < cutoff)).scalars())


def _finish_run(now, released: list, uncertain: list, dead: list) -> dict:
    requeued = _requeue_stalled(now)
    finished = finish_done_campaigns()
    return {
        "uncertain": len(uncertain),
        "released": len(released),
        "dead_workers": len(dead),
        "requeued_campaigns": requeued,
        "finished_campaigns": finished,
    }


def _requeue_stalled(now) -> list[int]:
    """Queue batch messages again for sending campaigns with due deliveries but no progress (lost messages)."""
    overdue = (DELIVERIES.c.status == "queued") & (
        DELIVERIES.c.not_before_at.is_(None) | (DELIVERIES.c.not_before_at <= now - timedelta(seconds=5))
    )
    stalled = (
        db.session.execute(
            select(Campaign).where(
                Campaign.status == "sending",
                Campaign.progress_at.is_(None)
                | (Campaign.progress_at <= now - timedelta(seconds=STALL_SECONDS)),
                Campaign.waiting_until.is_(None) | (Campaign.waiting_until <= now),
            )
        )
        .scalars()
        .all()
    )
    requeued = []
    for campaign in stalled:
        campaign.progress_at = now
        if not campaign.planning_done:
            enqueue_after_commit(db.session, "plan_campaign", campaign.id)
        batches = (
            db.session.execute(
                select(DELIVERIES.c.batch).where(DELIVERIES.c.campaign_id == campaign.id, overdue).distinct()
            )
            .scalars()
            .all()
        )
        for batch in sorted(batches):
            enqueue_after_commit(db.session, "send_batch", campaign.id, batch)
        requeued.append(campaign.id)
    db.session.commit()
    return requeued


def finish_done_campaigns() -> list[int]:
    """Mark sent every sending campaign that is planned and has no open delivery (one statement, no scan)."""
    done = (Campaign.status == "sending") & Campaign.planning_done.is_(True) & (Campaign.open_deliveries == 0)
    ids = list(db.session.execute(select(Campaign.id).where(done)).scalars())
    if ids:
        db.session.execute(
            update(Campaign)
            .where(Campaign.id.in_(ids), done)
            .values(status="sent", finished_at=utcnow(), waiting_reason="", waiting_until=None)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return ids
