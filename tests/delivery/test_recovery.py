"""Heartbeats and recovery: a dead worker's claims go back to the queue at once, only what it had handed to
the relay is uncertain, and a campaign whose last deliveries those were finishes in the same step."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns import sending
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery import heartbeat
from mailer.delivery.claims import Claims
from mailer.delivery.models import SendWorker
from tests.support.campaigns import deliveries, newsletter, wait_for
from tests.support.engine_steps import fresh, open_count_is_exact, start_and_plan, watch_broker


def _worker(worker_id: str, seconds_ago: float) -> str:
    now = utcnow()
    db.session.add(
        SendWorker(
            id=worker_id,
            host="test",
            pid=1,
            started_at=now - timedelta(hours=1),
            heartbeat_at=now - timedelta(seconds=seconds_ago),
        )
    )
    db.session.commit()
    return worker_id


def _holds(campaign, worker_id: str, handed: int) -> tuple[Claims, list]:
    """A worker that claimed every delivery of batch 1 and handed the first `handed` of them to the relay."""
    claims = Claims(sending.STORE, campaign.id, 1, worker_id)
    rows = claims.claim(100)
    assert claims.hand_over([(row[0], f"<m{row[0]}@example.com>") for row in rows[:handed]])
    return claims, rows


def test_a_dead_workers_claims_go_back_and_only_its_handed_deliveries_are_uncertain(
    app, app_ctx, smtp_server
):
    campaign, contacts = newsletter(5)
    enqueued = watch_broker(app)
    start_and_plan(campaign)
    _worker("live-1", seconds_ago=1)
    dead = _worker("dead-1", seconds_ago=0)
    _holds(campaign, dead, handed=2)
    db.session.get(SendWorker, dead).heartbeat_at = utcnow() - timedelta(
        seconds=120
    )  # then it stopped beating
    db.session.commit()

    report = campaigns.recover_stuck()
    assert (report["dead_workers"], report["released"], report["uncertain"]) == (1, 3, 2)
    by_status = {}
    for d in deliveries(campaign):
        by_status.setdefault(d.status, []).append(d)
    assert len(by_status["uncertain"]) == 2 and len(by_status["queued"]) == 3
    assert all("during the SMTP transaction" in d.reason and d.message_id for d in by_status["uncertain"])
    assert all(
        d.attempts == 0 and d.worker_id is None for d in by_status["queued"]
    )  # the attempt is given back
    assert set(db.session.execute(select(SendWorker.id)).scalars()) == {"live-1"}
    assert ((campaign.id, 1), None) in enqueued.of("send_batch")  # its batch is queued again at once
    assert fresh(campaign).status == "sending" and open_count_is_exact(campaign)

    sending.send_batch(campaign.id, 1)
    email_of = {c.id: c.email for c in contacts}
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == sorted(
        email_of[d.contact_id] for d in by_status["queued"]
    )
    assert fresh(campaign).status == "sent" and open_count_is_exact(campaign)


def test_the_campaign_finishes_in_the_recovery_step_when_nothing_else_is_open(app, app_ctx):
    campaign, _ = newsletter(2)
    start_and_plan(campaign)
    dead = _worker("dead-2", seconds_ago=0)
    _holds(campaign, dead, handed=2)
    db.session.get(SendWorker, dead).heartbeat_at = utcnow() - timedelta(seconds=120)
    db.session.commit()

    report = campaigns.recover_stuck()
    assert report["uncertain"] == 2 and report["finished_campaigns"] == [campaign.id]
    assert fresh(campaign).status == "sent" and fresh(campaign).open_deliveries == 0


def test_a_live_worker_is_left_alone(app, app_ctx):
    campaign, _ = newsletter(3)
    start_and_plan(campaign)
    _holds(campaign, _worker("alive", seconds_ago=2), handed=1)
    report = campaigns.recover_stuck()
    assert (report["dead_workers"], report["released"], report["uncertain"]) == (0, 0, 0)
    assert {d.status for d in deliveries(campaign)} == {"sending"}


def test_a_worker_thought_dead_records_what_the_relay_accepted_and_sends_nothing_taken_from_it(app, app_ctx):
    campaign, _ = newsletter(3)
    start_and_plan(campaign)
    slow = _worker("slow-1", seconds_ago=0)
    claims, rows = _holds(campaign, slow, handed=1)
    db.session.get(SendWorker, slow).heartbeat_at = utcnow() - timedelta(
        seconds=120
    )  # e.g. a long database outage
    db.session.commit()
    assert campaigns.recover_stuck()["uncertain"] == 1

    claims.sent(rows[0][0])  # the relay had accepted it: recorded as sent, never uncertain
    assert not claims.hand_over(
        [(rows[1][0], "<late@example.com>")]
    )  # recovery gave it back: must not be sent
    statuses = [d.status for d in deliveries(campaign)]
    assert statuses == ["sent", "queued", "queued"] and open_count_is_exact(campaign)
    assert all(d.handed_at is None for d in deliveries(campaign)[1:])


def test_deliveries_of_a_live_thread_stuck_far_too_long_are_recovered(app, app_ctx):
    campaign, _ = newsletter(3)
    start_and_plan(campaign)
    _holds(campaign, _worker("stuck", seconds_ago=0), handed=1)
    report = campaigns.recover_stuck(stuck_after_s=0)
    assert (report["released"], report["uncertain"]) == (2, 1) and open_count_is_exact(campaign)


@pytest.mark.config(SEND_WORKER_DEAD_AFTER_SECONDS=2)
def test_a_sending_process_keeps_its_heartbeat_fresh(app, app_ctx):
    worker_id = heartbeat.worker_id()
    assert heartbeat.worker_id() == worker_id  # one per process
    first = db.session.get(SendWorker, worker_id).heartbeat_at
    wait_for(
        lambda: db.session.get(SendWorker, worker_id, populate_existing=True).heartbeat_at > first,
        timeout=5,
        what="the next heartbeat",
    )
    assert campaigns.recover_stuck()["dead_workers"] == 0
    app.extensions["mailer.workers"].stop_worker()  # stops the heartbeat with the worker


def test_after_a_database_outage_nobody_is_dead_until_the_living_have_beaten(app, app_ctx):
    campaign, _ = newsletter(2)
    start_and_plan(campaign)
    _worker("a", seconds_ago=25)  # every heartbeat is as old as the outage
    _holds(campaign, _worker("b", seconds_ago=25), handed=1)
    assert campaigns.recover_stuck()["dead_workers"] == 0
    assert {d.status for d in deliveries(campaign)} == {"sending"}

    db.session.get(SendWorker, "a").heartbeat_at = utcnow()  # "a" is back; "b" stays silent
    db.session.commit()
    report = campaigns.recover_stuck()
    assert (report["dead_workers"], report["released"], report["uncertain"]) == (1, 1, 1)
    assert open_count_is_exact(campaign)
