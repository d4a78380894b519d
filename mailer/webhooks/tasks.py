"""Webhook actors: a few lines each, calling sending/alerts/queries."""

from flask import current_app

from mailer.core.broker import actor, started_coalesced
from mailer.core.extensions import db
from mailer.webhooks import alerts, queries, sending
from mailer.webhooks.outbox import DISPATCH_ACTOR


@actor(queue_name="webhooks", max_retries=0, max_age=120_000)
def dispatch_webhooks() -> None:
    """Turn new ledger rows into events and queue every due delivery (scheduled, and after each commit)."""
    started_coalesced(DISPATCH_ACTOR)
    sending.dispatch_due()


# No dramatiq retries: a failed attempt is scheduled again in the database (WEBHOOK_RETRY_SCHEDULE).
@actor(queue_name="webhooks", max_retries=0, time_limit=300_000)
def deliver_webhook(delivery_id: int) -> None:
    """Send one claimed delivery once."""
    sending.attempt(delivery_id)


@actor(queue_name="transactional", max_retries=24, min_backoff=5_000, max_backoff=900_000)
def send_webhook_alert(event_id: int, staff_id: int) -> None:
    """Email one recorded webhook alert to one owner or admin (never twice)."""
    alerts.email_alert(event_id, staff_id)


@actor(queue_name="maintenance", max_retries=0, max_age=3_600_000)
def purge_webhook_log() -> None:
    """Delete finished deliveries older than WEBHOOK_LOG_RETENTION_DAYS (scheduled daily)."""
    queries.purge_log(int(current_app.config["WEBHOOK_LOG_RETENTION_DAYS"]))
    db.session.commit()
