"""dramatiq actors of journeys: the scheduler's pass over due enrolments, and the step campaigns' batches."""

import os
import time

from flask import current_app

from mailer.core.broker import actor, enqueue
from mailer.core.logs import log_context
from mailer.core.process_local import process_local
from mailer.journeys import engine, sending, triggers

PASS_SECONDS = 30  # one message works this long at most, then hands over to a fresh one


class _LastSweep:
    """When this process last swept the journeys for people who left their list (monotonic seconds)."""

    def __init__(self, app) -> None:
        self.pid = os.getpid()
        self.at: float | None = None


def _sweep_due() -> bool:
    """The sweep reads every active enrolment: once per JOURNEY_TRIGGER_SECONDS per process, not every pass
    (the wake and the send-time check stop a leaver's next step anyway; the sweep only ends long waits)."""
    last = process_local(current_app, "mailer.journeys.last_sweep", _LastSweep)
    now = time.monotonic()
    if last.at is not None and now - last.at < current_app.config["JOURNEY_TRIGGER_SECONDS"]:
        return False
    last.at = now
    return True


# Scheduled every JOURNEY_TICK_SECONDS; a stale message (workers were down) is skipped.
@actor(queue_name="journeys", max_retries=3, min_backoff=1_000, max_age=300_000, time_limit=600_000)
def advance_journeys() -> None:
    """New entries of segment and date journeys, then move due enrolments on, batch after batch; when there
    is more, a fresh message goes on (another worker may take it: passes never take the same enrolments)."""
    size = current_app.config["JOURNEY_BATCH_SIZE"]
    if _sweep_due():
        engine.exit_withdrawn()
    triggers.enrol_triggered()  # segment and date journeys' new entries (set-based, once a minute each)
    started = time.monotonic()
    while engine.advance_due(size) >= size:
        if time.monotonic() - started > PASS_SECONDS:
            enqueue("advance_journeys")
            return


@actor(
    queue_name="campaigns",
    priority=10,
    max_retries=20,
    min_backoff=1_000,
    max_backoff=300_000,
    time_limit=3_600_000,
)
def send_journey_batch(campaign_id: int, batch: int) -> None:
    """Send one batch of a journey step's messages (claims are atomic: a redelivery cannot send twice)."""
    with log_context(campaign_id=campaign_id):
        sending.send_batch(campaign_id, batch)
