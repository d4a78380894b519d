"""Delivering the outbox: claim due deliveries, sign and send each (Standard Webhooks), retry with backoff.

The dispatcher (scheduled every WEBHOOK_TICK_SECONDS and enqueued after every commit that wrote events)
reads new ledger rows into events, puts back deliveries a dead worker left claimed, and claims what is due,
one UPDATE per batch, so a delivery is in one worker's hands at a time. Each attempt is one short actor
message; nothing waits in the broker that the database does not also hold, so a lost message or a dead
worker delays a delivery and never loses it. Receivers drop duplicates by `webhook-id`, which is the same on
every retry.
"""

import json
import logging
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update
from standardwebhooks.webhooks import Webhook

from mailer.core.broker import enqueue_after_commit
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.outbound import OutboundError, fetch
from mailer.core.sentences import N_, Sentence
from mailer.webhooks import alerts, signing
from mailer.webhooks.catalogue import TEST_EVENT, build_payload
from mailer.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from mailer.webhooks.outbox import scan_ledger

log = logging.getLogger(__name__)
ATTEMPT_ACTOR = "deliver_webhook"
CLAIM_BATCH = 500
EXCERPT_CHARS = 1000  # of each answer, kept in the delivery log
MAX_ANSWER_BYTES = 64 * 1024  # read of an answer at most; the rest is dropped
# Stored with an attempt and an endpoint, shown translated (core.sentences).
ENDPOINT_STATUS = Sentence(N_("The endpoint answered %(status)s."))
DISABLED = Sentence(
    N_(
        "Disabled automatically after %(failures)s or more failed attempts in a row, failing since at least "
        "%(hours)s hours."
    )
)


def retry_schedule() -> list[float]:
    """Seconds to wait before each retry (WEBHOOK_RETRY_SCHEDULE); its length is the number of retries."""
    return [
        float(part) for part in str(current_app.config["WEBHOOK_RETRY_SCHEDULE"]).split(",") if part.strip()
    ]


def dispatch_due(now: datetime | None = None) -> int:
    """Read new ledger rows, release stale claims, claim what is due and queue one attempt each; commits."""
    now = now or utcnow()
    scan_ledger()
    stale = now - timedelta(seconds=2 * current_app.config["WEBHOOK_TIMEOUT_SECONDS"] + 60)
    db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.status == DeliveryStatus.SENDING, WebhookDelivery.claimed_at < stale)
        .values(status=DeliveryStatus.PENDING, claimed_at=None)
    )
    due = (
        select(WebhookDelivery.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookEndpoint.active.is_(True), WebhookEvent.type == TEST_EVENT),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(CLAIM_BATCH)
    )
    if db.engine.dialect.name == "postgresql":
        due = due.with_for_update(of=WebhookDelivery, skip_locked=True)
    ids = list(db.session.execute(due).scalars())
    claimed: list[int] = []
    if ids:
        claimed = list(
            db.session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(ids), WebhookDelivery.status == DeliveryStatus.PENDING)
                .values(status=DeliveryStatus.SENDING, claimed_at=now)
                .returning(WebhookDelivery.id)
            ).scalars()
        )
    for delivery_id in claimed:
        enqueue_after_commit(db.session, ATTEMPT_ACTOR, delivery_id)
    db.session.commit()
    return len(claimed)


def _signature(endpoint: WebhookEndpoint, message_id: str, at: datetime, body: bytes) -> str:
    """`webhook-signature`: one `v1,` signature per secret in force (the previous one during its grace)."""
    return " ".join(
        Webhook(secret).sign(message_id, at, body) for secret in signing.secrets_in_force(endpoint)
    )


def attempt(delivery_id: int) -> str | None:
    """Send one claimed delivery once and record the outcome; returns the new status (None: not ours)."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status != DeliveryStatus.SENDING:
        db.session.rollback()
        return None
    endpoint, event = delivery.endpoint, delivery.event
    if not endpoint.active and event.type != TEST_EVENT:  # disabled since claimed: wait for it to be enabled
        delivery.status, delivery.claimed_at = DeliveryStatus.PENDING, None
        db.session.commit()
        return DeliveryStatus.PENDING
    personal = endpoint.recipient is not None and endpoint.recipient.role == "processor"
    payload = build_payload(event.type, event.contact_id, event.refs or {}, event.occurred_at, personal)
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    sent_at = utcnow()
    headers = {
        "Content-Type": "application/json",
        "webhook-id": event.message_id,
        "webhook-timestamp": str(int(sent_at.replace(tzinfo=UTC).timestamp())),
        "webhook-signature": _signature(endpoint, event.message_id, sent_at, body),
    }
    url, timeout = endpoint.url, float(current_app.config["WEBHOOK_TIMEOUT_SECONDS"])
    db.session.commit()  # no transaction stays open during the request
    status_code, excerpt, error, duration = None, "", "", 0
    try:
        answer = fetch(
            "POST",
            url,
            content=body,
            headers=headers,
            timeout=timeout,
            max_bytes=MAX_ANSWER_BYTES,
            truncate=True,
        )
        status_code, excerpt, duration = answer.status, answer.text()[:EXCERPT_CHARS], answer.duration_ms
        if not 200 <= answer.status < 300:
            error = ENDPOINT_STATUS(status=answer.status)
    except OutboundError as exc:
        error = exc.reason
        duration = round((utcnow() - sent_at).total_seconds() * 1000)
    return _record(delivery_id, status_code, excerpt, error, duration)


def _record(delivery_id: int, status_code: int | None, excerpt: str, error: str, duration: int) -> str:
    """Log the attempt and move the delivery and its endpoint's health on; commits."""
    now = utcnow()
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        db.session.rollback()
        return DeliveryStatus.FAILED
    db.session.add(
        WebhookAttempt(
            delivery_id=delivery_id,
            attempted_at=now,
            status_code=status_code,
            response_excerpt=excerpt,
            error=error[:1000],
            duration_ms=duration,
        )
    )
    delivery.attempts += 1
    delivery.last_status_code, delivery.last_error, delivery.claimed_at = status_code, error[:1000], None
    endpoint_id = delivery.endpoint_id
    if not error:
        delivery.status, delivery.completed_at = DeliveryStatus.SUCCEEDED, now
        db.session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(consecutive_failures=0, failing_since=None, last_success_at=now)
        )
        db.session.commit()
        return DeliveryStatus.SUCCEEDED
    schedule = retry_schedule()
    if delivery.attempts > len(schedule):
        delivery.status, delivery.completed_at = DeliveryStatus.FAILED, now
    else:
        delivery.status = DeliveryStatus.PENDING
        delivery.next_attempt_at = now + timedelta(seconds=schedule[delivery.attempts - 1])
    status = delivery.status
    _count_failure(endpoint_id, now)
    db.session.commit()
    return status


def _count_failure(endpoint_id: int, now: datetime) -> None:
    """One more failure in a row; disable the endpoint (once, with an alert) when failing long and often."""
    db.session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id)
        .values(
            consecutive_failures=WebhookEndpoint.consecutive_failures + 1,
            last_failure_at=now,
        )
    )
    db.session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_(None))
        .values(failing_since=now)
    )
    config = current_app.config
    since = now - timedelta(hours=float(config["WEBHOOK_DISABLE_AFTER_HOURS"]))
    failures = int(config["WEBHOOK_DISABLE_AFTER_FAILURES"])
    reason = DISABLED(failures=failures, hours=config["WEBHOOK_DISABLE_AFTER_HOURS"])
    disabled = db.session.execute(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.active.is_(True),
            WebhookEndpoint.consecutive_failures >= failures,
            WebhookEndpoint.failing_since <= since,
        )
        .values(active=False, disabled_at=now, disabled_reason=reason)
        .returning(WebhookEndpoint.id)
    ).scalar()
    if disabled is not None:
        alerts.endpoint_disabled(endpoint_id)
