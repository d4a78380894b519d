"""Transactional mail through the API: send a stored template to one contact or address, look a message up,
read the sent log (the templates themselves: mailer/api/tx_templates.py).

Sending answers 202 once the message is stored and queued (a worker sends it); an `Idempotency-Key` header
makes a retry safe: the same key with the same body answers what the first request answered, sending nothing.
"""

from flask import g, request
from marshmallow import Schema, fields, validate

from mailer.api.errors import ApiError
from mailer.api.fields import Object, RequestSchema, Text, page_of, public_id, timestamp
from mailer.api.inputs import PageQuery, page_args
from mailer.api.routing import api_route, respond
from mailer.api.schemas import one_of
from mailer.api.serializers import iso
from mailer.core.extensions import db
from mailer.transactional import operations as tx
from mailer.transactional import templates as tx_templates
from mailer.transactional.models import TxMessage, TxStatus

IDEMPOTENCY_HEADER = "Idempotency-Key"


class TxSendRequest(RequestSchema):
    template = Text(required=True, max_length=64, metadata={"description": "The template's key."})
    contact_id = Text(max_length=64, metadata={"description": "The contact's public id (or give `email`)."})
    email = Text(max_length=320, metadata={"description": "The recipient's address (or give `contact_id`)."})
    name = Text(max_length=200, metadata={"description": "The recipient's name for the To header."})
    data = Object(
        metadata={"description": "Merge data, `{{ data.<key> }}` in the template (TX_MAX_DATA_BYTES)."}
    )


class TxAcceptedSchema(Schema):
    id = public_id()
    status = one_of((TxStatus.QUEUED,), metadata={"description": "Always queued: a worker sends it."})
    template = fields.String()
    created_at = timestamp()


class TxMessageSchema(Schema):
    id = public_id()
    status = one_of(TxStatus)
    template = fields.String()
    contact_id = fields.String(allow_none=True, metadata={"description": "The contact it went to, if any."})
    message_id = fields.String(metadata={"description": "Its Message-ID header once sent; empty before."})
    reason = fields.String(metadata={"description": "Why it failed or was refused; the relay's words."})
    attempts = fields.Integer()
    test = fields.Boolean(
        metadata={"description": "A test send of the template (POST /tx-templates/{id}/test)."}
    )
    email = fields.String(
        metadata={"description": "The recipient's address; empty once retention or an erasure removed it."}
    )
    created_at = timestamp()
    finished_at = timestamp("When it was sent, failed or refused; null while queued.")


TxMessagePage = page_of(TxMessageSchema, "TxMessagePage")


class TxLogQuery(PageQuery):
    """Newest first: `after` is the id of the last message already seen."""

    template = Text(max_length=64, metadata={"description": "Only messages of the template with this key."})
    status = Text(validate=validate.OneOf(tuple(TxStatus), error="must be one of: " + ", ".join(TxStatus)))


def message_json(message: TxMessage) -> dict:
    return {
        "id": message.public_id,
        "status": message.status,
        "template": message.template.key,
        "contact_id": message.contact.public_id if message.contact is not None else None,
        "message_id": message.message_id,
        "reason": message.reason,
        "attempts": message.attempts,
        "test": message.test,
        "email": message.email,
        "created_at": iso(message.created_at),
        "finished_at": iso(message.finished_at),
    }


def accepted_json(message: TxMessage) -> dict:
    return {
        "id": message.public_id,
        "status": TxStatus.QUEUED,  # what the first answer said, also when a repeat reads it later
        "template": message.template.key,
        "created_at": iso(message.created_at),
    }


@api_route(
    "/tx",
    ("POST",),
    body=TxSendRequest,
    responses={202: TxAcceptedSchema},
    errors={
        404: "No template has this key, or no contact this contact_id.",
        409: "The template is archived.",
        413: "The merge data is larger than TX_MAX_DATA_BYTES.",
        422: "A refusal (detail.reason: restricted, erased, suppressed, render, idempotency_key_reused …).",
    },
    operation_id="sendTransactional",
    idempotent=False,  # its own key, stored with the message (transactional.operations)
    headers={
        IDEMPOTENCY_HEADER: {
            "description": "One per message (1–255 printable characters), scoped to the API key: a repeat "
            "with the same key and body answers the same (`Idempotent-Replayed: true`) and sends nothing; "
            "the same key with another body is a 422.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        }
    },
)
def tx_send(body: dict):
    """Send a transactional message from a stored template

    To one contact (`contact_id`) or one address (`email`); never marketing: no unsubscribe footer or
    List-Unsubscribe headers, no tracking. Refused (422, `detail.reason`) for a restricted or erased contact
    and a suppressed address. Send an `Idempotency-Key` header (1–255 printable characters, one per
    message) to make retries safe: a repeat with the same key and body answers the same (header
    `Idempotent-Replayed: true`) and sends nothing; the same key with another body is a 422.
    """
    try:
        accepted = tx.accept(
            body,
            template_key=body["template"],
            contact_id=body.get("contact_id"),
            email=body.get("email"),
            name=body.get("name"),
            data=body.get("data"),
            api_key_id=g.api_key.id,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER),
        )
    except tx.TxRefused as exc:
        db.session.rollback()
        raise ApiError(exc.status, exc.message, {"reason": exc.reason}) from None
    response = respond(TxAcceptedSchema, accepted_json(accepted.message), 202)
    if accepted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@api_route("/tx/<public_id>", responses={200: TxMessageSchema}, operation_id="getTransactional")
def tx_status(public_id: str):
    """A transactional message's status

    queued → sending → sent (with its Message-ID) / failed / refused (the recipient was restricted, erased or
    suppressed by the time a worker took it) / uncertain (its worker stopped mid-send; it is not sent again).
    """
    message = tx.by_public_id(public_id)
    if message is None:
        raise ApiError(404, "There is no transactional message with this id.", {"id": public_id[:64]})
    return message_json(message)


@api_route("/tx", query=TxLogQuery, responses={200: TxMessagePage}, operation_id="listTransactional")
def tx_log(query: dict):
    """The transactional sent log

    Every message (test sends included), newest first, one page at a time, with its status; `template` (a
    key) and `status` narrow it. Merge data is never shown; an address is gone once retention or an
    erasure removed it.
    """
    template = None
    if "template" in query:
        template = tx_templates.by_key(query["template"])
        if template is None:
            raise ApiError(422, "Some values are not valid.", {"template": "no template has this key"})
    after, limit = page_args(query)
    before = None
    if after is not None:
        before = tx.by_public_id(after)
        if before is None:
            raise ApiError(
                422, "Some values are not valid.", {"after": "no message has this id; start again without it"}
            )
    rows, more = tx.log_page(limit, before, template, query.get("status", ""))
    return {"data": [message_json(m) for m in rows], "next_cursor": rows[-1].public_id if more else None}
