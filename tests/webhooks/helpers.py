"""Endpoints, events and deliveries for the webhook tests, through the real operations."""

import json

from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from mailer.core.extensions import db
from mailer.privacy.models.settings import DataRecipient
from mailer.webhooks import sending
from mailer.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from mailer.webhooks.operations import EndpointFields, create_endpoint
from tests.support.receiver import Received

# For every test module here (pytestmark): the receiver on 127.0.0.1 is let through, retries come at once.
SETTINGS = {
    "MAILER_OUTBOUND_ALLOW_HOSTS": ["127.0.0.1"],
    "WEBHOOK_RETRY_SCHEDULE": "0,0,0",
    "WEBHOOK_TIMEOUT_SECONDS": 5,
}


def endpoint(receiver, events, path="/hook", processor: str = "", active: bool = True):
    """A committed endpoint on the receiver; returns (endpoint, its secret)."""
    made, secret = create_endpoint(
        EndpointFields(url=receiver.url(path), events=list(events), recipient=processor, active=active)
    )
    db.session.commit()
    return made, secret


def processor(name="CRM Ltd") -> str:
    """A processor in the privacy settings' recipients; returns its public id."""
    recipient = DataRecipient(
        name=name, role="processor", purpose="Customer records", data_categories="email"
    )
    db.session.add(recipient)
    db.session.commit()
    return recipient.public_id


def deliver(worker) -> None:
    """What the scheduler's tick does, then the worker runs every attempt it queued."""
    sending.dispatch_due()
    worker.drain()
    db.session.expire_all()


def verified(received: Received, secret: str) -> dict:
    """The payload, after the standardwebhooks package verified its signature (raises otherwise)."""
    return Webhook(secret).verify(received.body, received.headers)


def payloads(receiver, path="/hook") -> list[dict]:
    return [json.loads(r.body) for r in receiver.requests if r.path == path]


def deliveries_of(made: WebhookEndpoint) -> list[WebhookDelivery]:
    return list(
        db.session.execute(
            select(WebhookDelivery).where(WebhookDelivery.endpoint_id == made.id).order_by(WebhookDelivery.id)
        ).scalars()
    )


def attempts_of(delivery: WebhookDelivery) -> list[WebhookAttempt]:
    return list(
        db.session.execute(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery.id)
            .order_by(WebhookAttempt.id)
        ).scalars()
    )
