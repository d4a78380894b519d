"""The alert when the app disables an endpoint after repeated failures: an audit row, then one email each.

The audit row commits with the disabling itself, so the webhooks page shows the banner at once; every active
owner and admin is then emailed by the `send_webhook_alert` actor (retried while the relay is down), and a
second audit row per person marks an email the relay took, so a retry never sends it twice.
"""

import logging
import smtplib

from sqlalchemy import select

from mailer.audit import record
from mailer.audit.models import AuditEvent
from mailer.core.broker import enqueue_after_commit
from mailer.core.extensions import db
from mailer.core.urls import external_url
from mailer.delivery.notices import send_notice
from mailer.delivery.outgoing import MessageKind
from mailer.staff.models.accounts import StaffUser
from mailer.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)
DISABLED_ACTION = "webhook.auto_disabled"
EMAILED_ACTION = "webhook.alert_emailed"
NOTIFIED_ROLES = ("owner", "admin")
ALERT_ACTOR = "send_webhook_alert"


class AlertNotSentError(Exception):
    """The relay did not take an alert email (dramatiq retries); says why without any address."""


def endpoint_disabled(endpoint_id: int) -> None:
    """Record the automatic disabling and queue its email to every active owner and admin (caller commits)."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        return
    staff_ids = list(
        db.session.execute(
            select(StaffUser.id)
            .where(StaffUser.active.is_(True), StaffUser.role.in_(NOTIFIED_ROLES))
            .order_by(StaffUser.id)
        ).scalars()
    )
    event = record(
        DISABLED_ACTION,
        "webhook",
        endpoint.public_id,
        {"failures": endpoint.consecutive_failures, "notified": len(staff_ids)},
    )
    db.session.flush()
    for staff_id in staff_ids:
        enqueue_after_commit(db.session, ALERT_ACTOR, event.id, staff_id)


def _already_emailed(event_id: int, staff_id: int) -> bool:
    rows = db.session.execute(
        select(AuditEvent).where(
            AuditEvent.action == EMAILED_ACTION,
            AuditEvent.target_type == "alert",
            AuditEvent.target_id == str(event_id),
        )
    ).scalars()
    return any((row.details or {}).get("staff") == staff_id for row in rows)


def email_alert(event_id: int, staff_id: int) -> bool:
    """Email one recorded alert to one owner or admin unless it already went; True when sent now."""
    event, staff = db.session.get(AuditEvent, event_id), db.session.get(StaffUser, staff_id)
    endpoint = db.session.execute(
        select(WebhookEndpoint).where(WebhookEndpoint.public_id == (event.target_id if event else ""))
    ).scalar_one_or_none()
    if (
        endpoint is None
        or staff is None
        or not staff.active
        or staff.role not in NOTIFIED_ROLES
        or _already_emailed(event_id, staff_id)
    ):
        db.session.rollback()
        return False
    to_addr, public_id, url = staff.email, endpoint.public_id, endpoint.url
    reason, last_error = endpoint.disabled_reason, _last_error(endpoint.id)
    db.session.commit()
    try:
        send_notice(
            MessageKind.WEBHOOK_ALERT,
            to_addr,
            None,
            "A webhook endpoint was disabled after repeated failures",
            heading="A webhook endpoint was disabled",
            paragraphs=[
                f"Endpoint: {url}",
                reason,
                f"Last error: {last_error}" if last_error else "",
                "Events are no longer sent to it. Deliveries still waiting go out once it is enabled again.",
            ],
            items=[
                "Is the receiving service up and reachable from this server?",
                "Does it answer 2xx within the timeout?",
                "Does it verify signatures with the current secret (see the endpoint page)?",
            ],
            button_url=external_url("admin.webhook_show", public_id=public_id),
            button_label="Open the endpoint",
            footnote="You receive this because you are an owner or admin.",
        )
    except (smtplib.SMTPException, OSError) as exc:
        db.session.rollback()
        raise AlertNotSentError(
            f"the relay did not take webhook alert {event_id}: {type(exc).__name__}"
        ) from None
    record(EMAILED_ACTION, "alert", str(event_id), {"staff": staff_id, "webhook": public_id})
    db.session.commit()
    return True


def _last_error(endpoint_id: int) -> str:
    """The error of the endpoint's most recent failed attempt (the log holds it; no personal data)."""
    return (
        db.session.execute(
            select(WebhookAttempt.error)
            .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
            .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookAttempt.error != "")
            .order_by(WebhookAttempt.id.desc())
            .limit(1)
        ).scalar()
        or ""
    )
