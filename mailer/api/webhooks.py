"""Webhook endpoints through the API: list, get, create, change, delete, rotate the secret, send a test event.

The signing secret is in the answer to a create and to a rotation only (never in a read), so a read-only key
never sees one. URLs pass the outbound rule (mailer/core/outbound.py); events come from the catalogue. The
rules live in mailer.webhooks.operations, which the admin's pages call too.
"""

from marshmallow import Schema, fields
from sqlalchemy import select

from mailer.api.errors import ApiError
from mailer.api.fields import Flag, RequestSchema, Text, TextList, page_of, public_id, timestamp
from mailer.api.inputs import PageQuery, paged
from mailer.api.routing import api_route
from mailer.api.serializers import iso
from mailer.core.extensions import db
from mailer.webhooks import operations, queries
from mailer.webhooks.catalogue import EVENT_TYPES
from mailer.webhooks.models import WebhookEndpoint

EVENTS_HELP = "Event types to receive: " + ", ".join(sorted(EVENT_TYPES)) + "."
PROCESSOR_HELP = (
    "The public id of a processor in the privacy settings (its recipients); only then do payloads carry "
    "personal data. null: not a processor (ids only)."
)


class WebhookWrite(RequestSchema):
    """An endpoint's settings; on PATCH, only what changes."""

    url = Text(max_length=2048, metadata={"description": "Where events are POSTed (public http(s) address)."})
    description = Text(max_length=200)
    events = TextList(max_items=len(EVENT_TYPES), metadata={"description": EVENTS_HELP})
    active = Flag()
    processor_id = Text(allow_none=True, max_length=64, metadata={"description": PROCESSOR_HELP})


class WebhookCreate(WebhookWrite):
    url = Text(
        required=True, max_length=2048, metadata={"description": "Where events are POSTed (public http(s))."}
    )
    events = TextList(required=True, max_items=len(EVENT_TYPES), metadata={"description": EVENTS_HELP})


class WebhookSchema(Schema):
    id = public_id()
    url = fields.String()
    description = fields.String()
    events = fields.List(fields.String())
    active = fields.Boolean()
    processor_id = fields.String(allow_none=True, metadata={"description": PROCESSOR_HELP})
    disabled_reason = fields.String(allow_none=True, metadata={"description": "Why it was disabled, if so."})
    consecutive_failures = fields.Integer()
    created_at = timestamp()


class WebhookWithSecret(WebhookSchema):
    secret = fields.String(
        metadata={"description": "The signing secret (whsec_…), shown in this answer only."}
    )


class WebhookTestQueued(Schema):
    queued = fields.Boolean()


WebhookPage = page_of(WebhookSchema, "WebhookPage")


def webhook_json(endpoint: WebhookEndpoint, secret: str | None = None) -> dict:
    """An endpoint as the API shows it (the secret only when just made)."""
    shown = {
        "id": endpoint.public_id,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": list(endpoint.events or ()),
        "active": endpoint.active,
        "processor_id": endpoint.recipient.public_id if endpoint.recipient else None,
        "disabled_reason": endpoint.disabled_reason or None,
        "consecutive_failures": endpoint.consecutive_failures,
        "created_at": iso(endpoint.created_at),
    }
    if secret is not None:
        shown["secret"] = secret
    return shown


def _endpoint(public_id: str) -> WebhookEndpoint:
    endpoint = queries.endpoint_by_public_id(public_id[:64])
    if endpoint is None:
        raise ApiError(404, "There is no webhook endpoint with this id.", {"webhook_id": public_id[:64]})
    return endpoint


def _fields(body: dict, current: WebhookEndpoint | None) -> operations.EndpointFields:
    """The endpoint's fields: what the body names, the rest as they are (or the defaults for a new one)."""
    given = operations.EndpointFields()
    if current is not None:
        given = operations.EndpointFields(
            url=current.url,
            description=current.description,
            events=list(current.events or ()),
            active=current.active,
            recipient=current.recipient.public_id if current.recipient else "",
        )
    for name in ("url", "description", "events", "active"):
        if name in body:
            setattr(given, name, body[name])
    if "processor_id" in body:
        given.recipient = body["processor_id"] or ""
    return given


def _save(endpoint: WebhookEndpoint | None, given: operations.EndpointFields):
    try:
        if endpoint is None:
            saved, secret = operations.create_endpoint(given)
        else:
            saved, secret = operations.update_endpoint(endpoint, given), None
    except operations.WebhookError as exc:
        db.session.rollback()
        detail = {("processor_id" if k == "recipient" else k): v for k, v in exc.errors.items()}
        raise ApiError(422, "Some values are not valid.", detail) from None
    db.session.commit()
    return saved, secret


@api_route("/webhooks", query=PageQuery, responses={200: WebhookPage}, operation_id="listWebhooks")
def webhooks_index(query: dict):
    """Webhook endpoints

    Oldest first, one page at a time; never their secrets.
    """
    return paged(query, select(WebhookEndpoint), WebhookEndpoint, WebhookEndpoint.public_id, webhook_json)


@api_route(
    "/webhooks",
    ("POST",),
    body=WebhookCreate,
    responses={201: WebhookWithSecret},
    operation_id="createWebhook",
)
def webhook_create(body: dict):
    """Add a webhook endpoint

    The answer carries its signing secret, shown this once. Events are signed by the Standard Webhooks
    scheme (`webhook-id`, `webhook-timestamp`, `webhook-signature`). A URL that leads to a private or
    reserved address, unknown events or an unknown processor are a 422 naming the field.
    """
    saved, secret = _save(None, _fields(body, None))
    return webhook_json(saved, secret), 201


@api_route("/webhooks/<public_id>", responses={200: WebhookSchema}, operation_id="getWebhook")
def webhook_show(public_id: str):
    """One webhook endpoint (without its secret)"""
    return webhook_json(_endpoint(public_id))


@api_route(
    "/webhooks/<public_id>",
    ("PATCH",),
    body=WebhookWrite,
    responses={200: WebhookSchema},
    operation_id="updateWebhook",
)
def webhook_update(public_id: str, body: dict):
    """Change a webhook endpoint

    Any of url, description, events, active, processor_id (null: not a processor); fields left out stay.
    """
    endpoint = _endpoint(public_id)
    saved, _ = _save(endpoint, _fields(body, endpoint))
    return webhook_json(saved)


@api_route("/webhooks/<public_id>", ("DELETE",), responses={204: None}, operation_id="deleteWebhook")
def webhook_delete(public_id: str):
    """Remove a webhook endpoint and its delivery log"""
    operations.delete_endpoint(_endpoint(public_id))
    db.session.commit()
    return None, 204


@api_route(
    "/webhooks/<public_id>/rotate",
    ("POST",),
    responses={200: WebhookWithSecret},
    operation_id="rotateWebhookSecret",
)
def webhook_rotate(public_id: str):
    """Rotate a webhook endpoint's signing secret

    The new secret is in the answer; the previous one keeps signing beside it for the grace period
    (WEBHOOK_SECRET_GRACE_HOURS), so a receiver can switch without losing an event.
    """
    endpoint = _endpoint(public_id)
    secret = operations.rotate_secret(endpoint)
    db.session.commit()
    return webhook_json(endpoint, secret)


@api_route(
    "/webhooks/<public_id>/test",
    ("POST",),
    responses={202: WebhookTestQueued},
    operation_id="testWebhook",
)
def webhook_test(public_id: str):
    """Send a test event

    Queues a `webhook.test` event to this endpoint; its delivery shows in the endpoint's log.
    """
    endpoint = _endpoint(public_id)
    operations.send_test_event(endpoint)
    db.session.commit()
    return {"queued": True}, 202
