"""Webhook endpoints through the API: list, get, create, change, delete, rotate the secret, send a test event,
enable (after the app disabled one) or disable, and the delivery log: list, one delivery with its attempts,
send one again.

The signing secret is in the answer to a create and to a rotation only (never in a read), so a read-only key
never sees one. URLs pass the outbound rule (mailer/core/outbound.py); events come from the catalogue. The
rules live in mailer.webhooks.operations, which the admin's pages call too.
"""

from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select

from mailer.api.auth import via
from mailer.api.errors import ApiError
from mailer.api.fields import Flag, RequestSchema, Text, TextList, page_of, public_id, timestamp
from mailer.api.inputs import DEFAULT_PAGE_SIZE, Limit, PageQuery, paged
from mailer.api.routing import api_route
from mailer.api.serializers import iso
from mailer.core.extensions import db
from mailer.webhooks import operations, queries
from mailer.webhooks.catalogue import EVENT_TYPES
from mailer.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint

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
LIST_EXCERPT_CHARS = 200  # of the last answer, in a page of deliveries (one delivery shows up to 1,000)
DELIVERY_ID_HELP = "A delivery's id (digits), as the delivery log gives it."


def _delivery_id(value: str) -> None:
    if not value.isdigit() or len(value) > 18:
        raise ValidationError("is not a delivery id this API gave out")


class DeliveryQuery(RequestSchema):
    """Newest first: `after` is the id of the last delivery already seen."""

    after = Text(
        validate=_delivery_id,
        metadata={
            "description": "Continue after the delivery with this id (the previous page's next_cursor)."
        },
    )
    status = Text(
        validate=validate.OneOf(tuple(DeliveryStatus), error="must be one of: " + ", ".join(DeliveryStatus))
    )
    limit = Limit(load_default=DEFAULT_PAGE_SIZE)


class AttemptSchema(Schema):
    attempted_at = timestamp()
    status_code = fields.Integer(
        allow_none=True, metadata={"description": "The HTTP status the endpoint answered; null: no answer."}
    )
    response_excerpt = fields.String(
        metadata={"description": "The start of the answer's body (1,000 chars)."}
    )
    error = fields.String(
        metadata={
            "description": "Why it failed (a non-2xx answer, a timeout, a refused address …); empty when "
            "it succeeded."
        }
    )
    duration_ms = fields.Integer()


class DeliverySchema(Schema):
    id = fields.String(metadata={"description": DELIVERY_ID_HELP})
    event_id = fields.String(
        metadata={"description": "The event's webhook-id header: the same on every attempt and re-send."}
    )
    event_type = fields.String()
    status = fields.String(
        validate=validate.OneOf(tuple(DeliveryStatus)),
        metadata={
            "description": "pending (due at next_attempt_at, or waiting for a disabled endpoint), sending, "
            "succeeded (a 2xx answer), failed (every retry failed, or it can never succeed)."
        },
    )
    attempts = fields.Integer()
    last_status_code = fields.Integer(allow_none=True, metadata={"description": "The last answer's status."})
    last_error = fields.String()
    response_excerpt = fields.String(
        metadata={"description": f"The last answer's body, its first {LIST_EXCERPT_CHARS} characters."}
    )
    created_at = timestamp()
    next_attempt_at = timestamp("When it is tried next while pending.")
    completed_at = timestamp("When it succeeded or failed for good.")


class DeliveryDetailSchema(DeliverySchema):
    attempt_log = fields.List(
        fields.Nested(AttemptSchema), metadata={"description": "Every attempt, oldest first."}
    )


DeliveryPage = page_of(DeliverySchema, "WebhookDeliveryPage")


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
            saved, secret = operations.create_endpoint(given, via=via())
        else:
            saved, secret = operations.update_endpoint(endpoint, given, via=via()), None
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
    operations.delete_endpoint(_endpoint(public_id), via=via())
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
    secret = operations.rotate_secret(endpoint, via=via())
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
    operations.send_test_event(endpoint, via=via())
    db.session.commit()
    return {"queued": True}, 202


def delivery_json(delivery: WebhookDelivery, last: WebhookAttempt | None) -> dict:
    """A delivery as the log shows it, with an excerpt of its last answer."""
    return {
        "id": str(delivery.id),
        "event_id": delivery.event.message_id,
        "event_type": delivery.event.type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "response_excerpt": last.response_excerpt[:LIST_EXCERPT_CHARS] if last is not None else "",
        "created_at": iso(delivery.created_at),
        "next_attempt_at": iso(delivery.next_attempt_at)
        if delivery.status == DeliveryStatus.PENDING
        else None,
        "completed_at": iso(delivery.completed_at),
    }


def _delivery(endpoint: WebhookEndpoint, delivery_id: str) -> WebhookDelivery:
    found = (
        queries.delivery(endpoint, int(delivery_id))
        if delivery_id.isdigit() and len(delivery_id) <= 18
        else None
    )
    if found is None:
        raise ApiError(
            404, "This webhook endpoint has no delivery with this id.", {"delivery_id": delivery_id[:64]}
        )
    return found


def _set_active(public_id: str, active: bool) -> dict:
    endpoint = _endpoint(public_id)
    if endpoint.active == active:
        state = "active" if active else "disabled"
        raise ApiError(409, f"The endpoint is already {state}.", {"active": active})
    operations.set_active(endpoint, active, via=via())
    db.session.commit()
    return webhook_json(endpoint)


@api_route(
    "/webhooks/<public_id>/enable",
    ("POST",),
    responses={200: WebhookSchema},
    errors={409: "The endpoint is already active."},
    operation_id="enableWebhook",
)
def webhook_enable(public_id: str):
    """Enable a disabled webhook endpoint

    Also one the app disabled after repeated failures (`disabled_reason`): its failure count starts again and
    the deliveries that waited go out. Audited.
    """
    return _set_active(public_id, True)


@api_route(
    "/webhooks/<public_id>/disable",
    ("POST",),
    responses={200: WebhookSchema},
    errors={409: "The endpoint is already disabled."},
    operation_id="disableWebhook",
)
def webhook_disable(public_id: str):
    """Disable a webhook endpoint

    Nothing is sent to it until it is enabled again (its pending deliveries wait; a test event still goes).
    Audited.
    """
    return _set_active(public_id, False)


@api_route(
    "/webhooks/<public_id>/deliveries",
    query=DeliveryQuery,
    responses={200: DeliveryPage},
    operation_id="listWebhookDeliveries",
)
def webhook_deliveries(public_id: str, query: dict):
    """A webhook endpoint's delivery log

    Newest first, one page at a time: each event's delivery with its status, attempts, the last answer's
    status code and an excerpt of its body; `status` narrows it. Finished deliveries are kept for
    WEBHOOK_LOG_DAYS.
    """
    endpoint = _endpoint(public_id)
    before = int(query["after"]) if "after" in query else None
    rows, more = queries.deliveries_page(endpoint, query["limit"], before, query.get("status", ""))
    last = queries.last_attempts([row.id for row in rows])
    return {
        "data": [delivery_json(row, last.get(row.id)) for row in rows],
        "next_cursor": str(rows[-1].id) if more else None,
    }


@api_route(
    "/webhooks/<public_id>/deliveries/<delivery_id>",
    responses={200: DeliveryDetailSchema},
    parameters={"delivery_id": DELIVERY_ID_HELP},
    operation_id="getWebhookDelivery",
)
def webhook_delivery(public_id: str, delivery_id: str):
    """One delivery, with every attempt

    Each attempt's time, the status code answered, the start of the answer's body (up to 1,000 characters),
    the error when there was no usable answer, and how long it took.
    """
    delivery = _delivery(_endpoint(public_id), delivery_id)
    attempts = queries.attempts(delivery.id)
    shown = delivery_json(delivery, attempts[-1] if attempts else None)
    shown["attempt_log"] = [
        {
            "attempted_at": iso(attempt.attempted_at),
            "status_code": attempt.status_code,
            "response_excerpt": attempt.response_excerpt,
            "error": attempt.error,
            "duration_ms": attempt.duration_ms,
        }
        for attempt in attempts
    ]
    return shown


@api_route(
    "/webhooks/<public_id>/deliveries/<delivery_id>/resend",
    ("POST",),
    responses={202: DeliverySchema},
    parameters={"delivery_id": DELIVERY_ID_HELP},
    operation_id="resendWebhookDelivery",
)
def webhook_resend(public_id: str, delivery_id: str):
    """Send a delivery's event again

    A new delivery of the same event (the same `webhook-id`, so a receiver can tell it is a repeat), signed
    with the endpoint's current secret and tried by the worker with its own retries; the answer is the new
    delivery. To a disabled endpoint it waits until the endpoint is enabled. Audited.
    """
    delivery = _delivery(_endpoint(public_id), delivery_id)
    again = operations.resend_delivery(delivery, via=via())
    db.session.commit()
    return delivery_json(again, None), 202
