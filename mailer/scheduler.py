"""The scheduler: enqueues periodic work. Schedules live here; the broker only carries the messages."""
import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

log = logging.getLogger(__name__)

# actor name -> interval in minutes
PERIODIC_JOBS = {
    "purge_unconfirmed_signups": 60,
    "start_due_campaigns": 1,
    "recover_stuck_deliveries": 1,
    "purge_tracking_events": 24 * 60,
    "privacy_deadline_reminders": 60,  # deduplicated: each request is mentioned at most once a day
    "run_retention": 6 * 60,
}


def _enqueue(app, name: str) -> None:
    with app.app_context():
        app.extensions["mailer.workers"].actors[name].send()
        log.info("scheduled %s", name)


def build_scheduler(app, blocking: bool = False):
    """A scheduler that enqueues every periodic job at its interval (first run shortly after start)."""
    scheduler = BlockingScheduler(timezone="UTC") if blocking else BackgroundScheduler(timezone="UTC", daemon=True)
    for name, minutes in PERIODIC_JOBS.items():
        scheduler.add_job(_enqueue, "interval", minutes=minutes, args=(app, name), id=name, coalesce=True,
                          max_instances=1, replace_existing=True)
    return scheduler
