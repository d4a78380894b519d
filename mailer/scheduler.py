"""The scheduler: enqueues periodic work. Schedules live here; the broker only carries the messages."""

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

log = logging.getLogger(__name__)

# actor name -> interval in seconds, or the name of the setting that holds it (recovery's comes from
# SEND_RECOVERY_SECONDS: a dead worker costs seconds)
PERIODIC_JOBS: dict[str, int | str | None] = {
    "purge_unconfirmed_signups": 3600,
    "start_due_campaigns": 60,
    "decide_ab_tests": 60,  # A/B tests whose wait is over: the winner by clicks, then the rest gets it
    "recover_stuck_deliveries": None,
    "alert_relay_waits": 60,
    "purge_tracking_events": 24 * 3600,
    "privacy_deadline_reminders": 3600,  # deduplicated: each request is mentioned at most once a day
    "run_retention": 6 * 3600,
    "poll_bounce_mailbox": "BOUNCE_IMAP_POLL_SECONDS",  # only when BOUNCE_IMAP_URL names a mailbox
    # provider webhook events a dead worker left pending (each request also enqueues its own job)
    "process_provider_events": 60,
    "compact_counters": 60,  # the page totals' delta rows (core/counters.py)
    "check_sending_rates": 60,  # bounce and complaint rates above their limits pause campaigns
    "run_due_feeds": 60,  # RSS-to-email: feed campaigns whose scheduled hour has come
    "advance_journeys": "JOURNEY_TICK_SECONDS",  # due journey steps, in batches (no per-contact timers)
    "settle_stuck_transactional": 300,  # transactional messages whose worker died mid-send: uncertain
    "expire_list_reconfirmations": 3600,  # re-permission requests past their deadline: the unanswered leave
    "dispatch_webhooks": "WEBHOOK_TICK_SECONDS",  # new ledger rows into events; due webhook deliveries
    "purge_webhook_log": 24 * 3600,  # the delivery log after WEBHOOK_LOG_RETENTION_DAYS
}
# Jobs that run only when a setting is not empty.
CONDITIONAL_JOBS = {"poll_bounce_mailbox": "BOUNCE_IMAP_URL"}


def _enqueue(app, name: str) -> None:
    with app.app_context():
        app.extensions["mailer.workers"].actors[name].send()
        log.info("scheduled %s", name)


def build_scheduler(app, blocking: bool = False):
    """A scheduler that enqueues every periodic job at its interval (first run shortly after start)."""
    scheduler = (
        BlockingScheduler(timezone="UTC") if blocking else BackgroundScheduler(timezone="UTC", daemon=True)
    )
    for name, interval in PERIODIC_JOBS.items():
        if name in CONDITIONAL_JOBS and not app.config.get(CONDITIONAL_JOBS[name]):
            continue
        seconds = app.config[interval] if isinstance(interval, str) else interval
        seconds = seconds or app.config["SEND_RECOVERY_SECONDS"]
        scheduler.add_job(
            _enqueue,
            "interval",
            seconds=seconds,
            args=(app, name),
            id=name,
            coalesce=True,
            max_instances=1,
            replace_existing=True,
        )
    return scheduler
