"""A journey survives a real `dramatiq mailer.worker` process killed with SIGKILL while it sends a step: after
recovery and a restart, every contact gets each step once (only a message inside an SMTP transaction at the
kill may be uncertain, and is never resent)."""

import signal
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from mailer.campaigns import lifecycle as campaigns
from mailer.contacts.models.contact import Contact
from mailer.core.broker import enqueue
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery.models import Delivery
from mailer.journeys import operations as journeys
from mailer.journeys.models import Enrolment, JourneyStepCampaign, Trigger
from mailer.subscriptions.lists import create_list
from tests.delivery.test_worker_crash import THREADS, _kill, _worker_process
from tests.journeys.test_engine import welcome_series
from tests.support.campaigns import subscriber, wait_for

PEOPLE = 60


def _step_deliveries(journey, position: int) -> list[Delivery]:
    db.session.expire_all()
    step = journey.steps[position]
    campaign_ids = select(JourneyStepCampaign.campaign_id).where(JourneyStepCampaign.step_id == step.id)
    return list(db.session.execute(select(Delivery).where(Delivery.campaign_id.in_(campaign_ids))).scalars())


def _all_final(journey, position: int) -> bool:
    found = _step_deliveries(journey, position)
    return len(found) == PEOPLE and all(d.status in ("sent", "uncertain", "skipped") for d in found)


@pytest.mark.config(
    SEND_RATE_PER_SECOND=40, SEND_CHUNK_SIZE=10, SEND_PIPELINE_DEPTH=3, SEND_WORKER_DEAD_AFTER_SECONDS=2
)
def test_a_journey_survives_a_worker_killed_mid_step(app, app_ctx, backend, smtp_server, tmp_path):
    if backend == "sqlite":
        pytest.skip("embedded mode has no separate worker process: its in-memory broker lives inside the app")
    news = create_list("News")
    people = [subscriber(news, f"person{i}@example.net", f"Person{i}") for i in range(PEOPLE)]
    db.session.commit()
    journey = welcome_series(news, trigger=Trigger.API)
    for person in people:
        journeys.enrol(journey, person.id, "api")
    db.session.commit()
    enqueue("advance_journeys")  # what the scheduler queues every JOURNEY_TICK_SECONDS

    first = _worker_process(app, smtp_server, tmp_path / "worker1.log")
    try:
        with smtp_server.arrived:
            arrived = smtp_server.arrived.wait_for(lambda: len(smtp_server.messages) >= 15, timeout=60)
        assert arrived, (tmp_path / "worker1.log").read_text()
    finally:
        _kill(first)  # SIGKILL: claimed deliveries of the welcome step are left in "sending"
    held = [d for d in _step_deliveries(journey, 0) if d.status == "sending"]
    handed = {d.id for d in held if d.handed_at is not None}
    assert held, "the kill should have caught the step's deliveries in flight"
    assert len(handed) <= THREADS * (app.config["SEND_PIPELINE_DEPTH"] + 1)

    # The scheduler's recovery pass: the dead worker's journey deliveries go back to the queue (or uncertain).
    report = wait_for(
        lambda: (r := campaigns.recover_stuck(scheduled=True)) and r["dead_workers"] and r,
        timeout=20,
        what="recovery to notice the dead worker",
    )
    assert report["released"] + report["uncertain"] == len(held)
    uncertain = {d.id for d in _step_deliveries(journey, 0) if d.status == "uncertain"}
    assert uncertain <= handed

    second = _worker_process(app, smtp_server, tmp_path / "worker2.log")  # the restart
    try:
        wait_for(lambda: _all_final(journey, 0), timeout=90, what="the welcome step to be sent")
        # The wait is over: the next pass sends the last step.
        db.session.execute(
            text("UPDATE journey_enrolments SET due_at = :now WHERE state = 'active'"),
            {"now": utcnow() - timedelta(seconds=1)},
        )
        db.session.commit()
        enqueue("advance_journeys")
        wait_for(lambda: _all_final(journey, 2), timeout=90, what="the last step to be sent")
    finally:
        _kill(second, signal.SIGTERM)

    email_of = dict(db.session.execute(select(Contact.id, Contact.email)).all())
    received = Counter((m.rcpt_tos[0], m.message["Subject"]) for m in smtp_server.messages)
    assert max(received.values()) == 1  # nobody got any step twice
    welcome = _step_deliveries(journey, 0)
    assert {d.status for d in welcome} <= {"sent", "uncertain"}
    assert {d.id for d in welcome if d.status == "uncertain"} == uncertain  # never resent by itself
    for d in welcome:
        if d.status == "sent":
            assert received[(email_of[d.contact_id], "Welcome aboard")] == 1
    last = _step_deliveries(journey, 2)
    assert {d.status for d in last} == {"sent"}
    assert all(received[(email, "Your second day")] == 1 for email in email_of.values())
    states = db.session.execute(select(Enrolment.state)).scalars().all()
    assert states == ["done"] * PEOPLE
