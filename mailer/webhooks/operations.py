"""Changing webhook endpoints: create, edit, enable, rotate the secret, delete, send a test, re-send.

Every change is audited (actor, endpoint public id, `via`: the API key when the API made it; never a
secret). The URL passes the outbound rule (mailer/core/outbound.py) when it is saved, and again at every
request.
"""

from dataclasses import dataclass, field

from flask_babel import gettext
from sqlalchemy import select

from mailer.audit import record
from mailer.core.broker import enqueue_coalesced_after_commit
from mailer.core.clock import utcnow
from mailer.core.domain_events import DomainEvent
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.core.outbound import OutboundRefused, check_url
from mailer.core.text import has_controls
from mailer.privacy.models.settings import DataRecipient
from mailer.webhooks import signing
from mailer.webhooks.catalogue import EVENT_TYPES, TEST_EVENT
from mailer.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from mailer.webhooks.outbox import DISPATCH_ACTOR, start_ledger_cursor, write_events

MAX_ENDPOINTS = 50


class WebhookError(ValueError):
    """The submitted endpoint is not usable; `errors` maps each field to a message a person understands."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass
class EndpointFields:
    """What the endpoint form or the API submits."""

    url: str = ""
    description: str = ""
    events: list[str] = field(default_factory=list)
    active: bool = True
    recipient: str = ""  # a processor's public id in the privacy settings, or "" for none


def _validated(fields: EndpointFields) -> tuple[str, str, list[str], DataRecipient | None]:
    errors: dict[str, str] = {}
    url = ""
    try:
        url = check_url(fields.url)
    except OutboundRefused as exc:
        errors["url"] = exc.reason
    description = (fields.description or "").strip()
    if len(description) > 500 or has_controls(description):
        errors["description"] = gettext(
            "Keep the description under 500 characters, without control characters."
        )
    unknown = sorted(set(fields.events) - set(EVENT_TYPES))
    events = [event for event in EVENT_TYPES if event in set(fields.events)]
    if unknown:
        errors["events"] = gettext("Unknown events: %(events)s.", events=", ".join(unknown[:5]))
    elif not events:
        errors["events"] = gettext("Choose at least one event.")
    recipient = None
    if fields.recipient:
        recipient = db.session.execute(
            select(DataRecipient).where(DataRecipient.public_id == fields.recipient)
        ).scalar_one_or_none()
        if recipient is None or recipient.role != "processor" or not recipient.active:
            errors["recipient"] = gettext("Choose an active processor from the privacy settings' recipients.")
    if errors:
        raise WebhookError(errors)
    return url, description, events, recipient


def create_endpoint(
    fields: EndpointFields, actor=None, via: dict | None = None
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint with a fresh secret; returns it and the secret (shown once to whoever made it)."""
    url, description, events, recipient = _validated(fields)
    count = db.session.execute(select(db.func.count()).select_from(WebhookEndpoint)).scalar_one()
    if count >= MAX_ENDPOINTS:
        raise WebhookError(
            {"url": gettext("There can be at most %(max)s endpoints; delete one first.", max=MAX_ENDPOINTS)}
        )
    secret = signing.new_secret()
    try:
        sealed = signing.seal(secret)
    except PrivacyError as exc:
        raise WebhookError({"url": str(exc)}) from None
    endpoint = WebhookEndpoint(
        url=url,
        description=description,
        events=events,
        active=fields.active,
        recipient=recipient,
        secret_sealed=sealed,
    )
    db.session.add(endpoint)
    db.session.flush()
    start_ledger_cursor(db.session.connection())
    record("webhook.created", "webhook", endpoint.public_id, _summary(endpoint, via), actor=actor)
    return endpoint, secret


def update_endpoint(
    endpoint: WebhookEndpoint, fields: EndpointFields, actor=None, via: dict | None = None
) -> WebhookEndpoint:
    """Change an endpoint's URL, description, events, processor and active flag (the caller commits)."""
    url, description, events, recipient = _validated(fields)
    endpoint.url, endpoint.description, endpoint.events = url, description, events
    endpoint.recipient = recipient
    set_active(endpoint, fields.active, audited=False)  # the update's own record names it
    record("webhook.updated", "webhook", endpoint.public_id, _summary(endpoint, via), actor=actor)
    return endpoint


def set_active(
    endpoint: WebhookEndpoint, active: bool, actor=None, audited: bool = True, via: dict | None = None
) -> None:
    """Enable or disable (audited when it changes); enabling clears the failure streak and the reason the
    app disabled it, so it gets a fresh start."""
    if active and not endpoint.active:
        endpoint.consecutive_failures, endpoint.failing_since = 0, None
        endpoint.disabled_at, endpoint.disabled_reason = None, ""
    changed = endpoint.active != active
    endpoint.active = active
    if changed and audited:
        record(
            "webhook.enabled" if active else "webhook.disabled",
            "webhook",
            endpoint.public_id,
            via or {},
            actor=actor,
        )


def rotate_secret(endpoint: WebhookEndpoint, actor=None, via: dict | None = None) -> str:
    """A new secret; the previous one keeps signing for WEBHOOK_SECRET_GRACE_HOURS. Returns the new one."""
    secret = signing.rotate(endpoint)
    record(
        "webhook.secret_rotated",
        "webhook",
        endpoint.public_id,
        {
            **(via or {}),
            **(
                {"previous_valid_until": endpoint.previous_secret_expires_at.isoformat() + "Z"}
                if endpoint.previous_secret_expires_at
                else {}
            ),
        },
        actor=actor,
    )
    return secret


def delete_endpoint(endpoint: WebhookEndpoint, actor=None, via: dict | None = None) -> None:
    """Remove the endpoint, its deliveries and their log."""
    record(
        "webhook.deleted", "webhook", endpoint.public_id, {"url": endpoint.url, **(via or {})}, actor=actor
    )
    db.session.delete(endpoint)


def send_test_event(endpoint: WebhookEndpoint, actor=None, via: dict | None = None) -> None:
    """Queue a `webhook.test` event to this endpoint only (sent even while it is disabled, to try a fix)."""
    write_events(
        db.session.connection(),
        [DomainEvent(TEST_EVENT, None, {"message": "This is a test event from your mailer."})],
        endpoint_ids=[endpoint.id],
    )
    record("webhook.test_sent", "webhook", endpoint.public_id, via or {}, actor=actor)


def resend_delivery(delivery: WebhookDelivery, actor=None, via: dict | None = None) -> WebhookDelivery:
    """Send a delivery's event again to its endpoint, as a new delivery with its own retries."""
    again = WebhookDelivery(
        event_id=delivery.event_id,
        endpoint_id=delivery.endpoint_id,
        status=DeliveryStatus.PENDING,
        next_attempt_at=utcnow(),
    )
    db.session.add(again)
    db.session.flush()
    enqueue_coalesced_after_commit(db.session, DISPATCH_ACTOR)
    record(
        "webhook.resent",
        "webhook",
        delivery.endpoint.public_id,
        {"event": delivery.event.message_id, **(via or {})},
        actor=actor,
    )
    return again


def _summary(endpoint: WebhookEndpoint, via: dict | None = None) -> dict:
    return {
        **(via or {}),
        "url": endpoint.url,
        "events": list(endpoint.events or ()),
        "active": endpoint.active,
        "processor": endpoint.recipient.public_id if endpoint.recipient else None,
    }
