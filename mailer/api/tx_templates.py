"""Transactional templates through the API, as in the admin: list, show, create, change, archive, restore,
preview with merge data and send a test to one address.

The rules are mailer.transactional.templates' (the admin's editor calls them too): a key of lower-case
letters, digits, '-' and '_', a one-line subject, a body within MAX_BODY_LENGTH, and a template is saved only
when it renders in the sandbox with the sample data. There is no delete, as in the admin: a template keeps its
sent log; archive it and the API refuses to send it.
"""

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from mailer.api.auth import via
from mailer.api.errors import TEST_SENDS_SPENT, ApiError, refuse_when_test_sends_spent
from mailer.api.fields import Object, RequestSchema, Text, page_of, public_id, timestamp
from mailer.api.inputs import PageQuery, id_named, keyset_page, page_args
from mailer.api.routing import api_route
from mailer.api.schemas import one_of
from mailer.api.serializers import iso
from mailer.api.transactional import TxAcceptedSchema, accepted_json
from mailer.core import test_sends
from mailer.core.extensions import db
from mailer.delivery.relays import Relay
from mailer.transactional import operations as tx
from mailer.transactional import templates as tx_templates
from mailer.transactional.models import BodyFormat, TxTemplate
from mailer.transactional.rendering import SAMPLE_DATA, TemplateRenderError

KEY_HELP = "What POST /tx names it by: 1–64 lower-case letters, digits, '-' or '_' (e.g. password-reset)."
BODY_HELP = (
    "Markdown or HTML with Jinja (sandboxed): `{{ data.<key> }}` for the merge data, "
    "`{{ contact.first_name }}` … for the recipient. "
    f"At most {tx_templates.MAX_BODY_LENGTH:,} characters, within a request body of at most "
    "API_MAX_BODY_BYTES."
)
RELAY_HELP = "The name of the relay it is sent through; null: the default relay (SMTP_URL)."
DATA_HELP = (
    "Merge data, `{{ data.<key> }}` in the template (TX_MAX_DATA_BYTES); left out: the sample data "
    + ", ".join(f"{key}={value}" for key, value in SAMPLE_DATA.items())
    + "."
)
REFUSED = {
    422: "A value is not valid, or the template doesn't render with the sample data: `detail.problems` "
    "lists every problem in words."
}
NOT_RENDERED = {
    422: "The template can't be rendered with this data (the sandbox's message is `detail.problem`), or "
    "the merge data is not valid.",
    413: "The merge data is larger than TX_MAX_DATA_BYTES.",
}


class TxTemplateWrite(RequestSchema):
    """A template; on PATCH, only what changes."""

    key = Text(max_length=64, metadata={"description": KEY_HELP})
    name = Text(max_length=tx_templates.MAX_NAME_LENGTH)
    subject = Text(max_length=tx_templates.MAX_SUBJECT_LENGTH, metadata={"description": "One line, Jinja."})
    body = Text(multiline=True, max_length=tx_templates.MAX_BODY_LENGTH, metadata={"description": BODY_HELP})
    body_format = Text(
        validate=validate.OneOf(tuple(BodyFormat), error="must be markdown or html"),
    )
    reply_to = Text(max_length=320, metadata={"description": "A Reply-To address, or empty for none."})
    relay = Text(allow_none=True, max_length=63, metadata={"description": RELAY_HELP})


class TxTemplateCreate(TxTemplateWrite):
    key = Text(required=True, max_length=64, metadata={"description": KEY_HELP})
    name = Text(required=True, max_length=tx_templates.MAX_NAME_LENGTH)
    subject = Text(required=True, max_length=tx_templates.MAX_SUBJECT_LENGTH)
    body = Text(
        required=True,
        multiline=True,
        max_length=tx_templates.MAX_BODY_LENGTH,
        metadata={"description": BODY_HELP},
    )


class TxTemplateQuery(PageQuery):
    archived = Text(
        load_default="false",
        validate=validate.OneOf(["true", "false"], error="must be true or false"),
        metadata={"description": "`true` for the archived templates (which POST /tx refuses)."},
    )


class TxPreviewRequest(RequestSchema):
    data = Object(metadata={"description": DATA_HELP})


class TxDraftPreviewRequest(RequestSchema):
    """An unsaved template's text and the merge data, as the editor's Preview button renders them."""

    subject = Text(required=True, max_length=tx_templates.MAX_SUBJECT_LENGTH)
    body = Text(
        required=True,
        multiline=True,
        max_length=tx_templates.MAX_BODY_LENGTH,
        metadata={"description": BODY_HELP},
    )
    body_format = Text(
        load_default=BodyFormat.MARKDOWN,
        validate=validate.OneOf(tuple(BodyFormat), error="must be markdown or html"),
    )
    data = Object(metadata={"description": DATA_HELP})


class TxTestRequest(RequestSchema):
    email = Text(required=True, max_length=320, metadata={"description": "Where the test goes."})
    data = Object(metadata={"description": DATA_HELP})


class TxTemplateSchema(Schema):
    id = public_id()
    key = fields.String(metadata={"description": KEY_HELP})
    name = fields.String()
    subject = fields.String()
    body = fields.String(metadata={"description": "Only on GET /tx-templates/{public_id} and writes."})
    body_format = one_of(BodyFormat)
    reply_to = fields.String()
    relay = fields.String(allow_none=True, metadata={"description": RELAY_HELP})
    archived = fields.Boolean(metadata={"description": "Archived: POST /tx refuses it (409)."})
    archived_at = timestamp()
    created_at = timestamp()
    updated_at = timestamp()


class TxPreviewSchema(Schema):
    subject = fields.String(metadata={"description": "The rendered subject."})
    html = fields.String(metadata={"description": "The whole HTML part, in the transactional layout."})
    text = fields.String(metadata={"description": "The plain-text part."})


TxTemplatePage = page_of(TxTemplateSchema, "TxTemplatePage")


def template_json(template: TxTemplate, with_body: bool = True) -> dict:
    shown = {
        "id": template.public_id,
        "key": template.key,
        "name": template.name,
        "subject": template.subject,
        "body_format": template.body_format,
        "reply_to": template.reply_to,
        "relay": template.relay.name if template.relay else None,
        "archived": template.archived_at is not None,
        "archived_at": iso(template.archived_at),
        "created_at": iso(template.created_at),
        "updated_at": iso(template.updated_at),
    }
    if with_body:
        shown["body"] = template.body
    return shown


def template_or_404(public_id: str) -> TxTemplate:
    template = tx_templates.by_public_id(public_id)
    if template is None:
        raise ApiError(
            404, "There is no transactional template with this id.", {"template_id": public_id[:64]}
        )
    return template


def _save(body: dict, template: TxTemplate | None) -> TxTemplate:
    """Saved through the admin's rules (they commit); every problem in `detail.problems` otherwise."""
    current = template_json(template) if template is not None else {"body_format": BodyFormat.MARKDOWN}
    given = {name: body.get(name, current.get(name)) for name in ("key", "name", "subject", "body")}
    given["body_format"] = body.get("body_format", current["body_format"])
    given["reply_to"] = body.get("reply_to", current.get("reply_to", ""))
    if "relay" in body:
        given["relay_id"] = id_named(Relay, Relay.name, body["relay"], "relay")
    else:
        given["relay_id"] = template.relay_id if template is not None else None
    try:
        return tx_templates.save_template(given, template, via=via())
    except tx_templates.TemplateError as exc:
        db.session.rollback()
        raise ApiError(422, "The template was not saved: " + str(exc), {"problems": exc.problems}) from None


def _merge_data(body: dict) -> dict:
    """The request's merge data within the sending limits (the sample data when it names none)."""
    if "data" not in body:
        return dict(SAMPLE_DATA)
    try:
        return tx.check_data(body["data"])
    except tx.TxRefused as exc:
        raise ApiError(exc.status, exc.message, {"data": exc.message}) from None


def _rendered(template: TxTemplate, data: dict) -> dict:
    try:
        rendered = tx_templates.preview(template, data)
    except TemplateRenderError as exc:
        db.session.rollback()
        raise ApiError(
            422, f"The template can't be rendered with this data: {exc}", {"problem": str(exc)}
        ) from None
    return {"subject": rendered.subject, "html": rendered.html, "text": rendered.text}


@api_route(
    "/tx-templates", query=TxTemplateQuery, responses={200: TxTemplatePage}, operation_id="listTxTemplates"
)
def tx_templates_index(query: dict):
    """Transactional templates

    The active templates (or, with `archived=true`, the archived ones), oldest first, without their body.
    """
    after, limit = page_args(query)
    archived = query["archived"] == "true"
    where = TxTemplate.archived_at.is_not(None) if archived else TxTemplate.archived_at.is_(None)
    rows, next_cursor = keyset_page(
        select(TxTemplate).where(where), TxTemplate, TxTemplate.public_id, after, limit
    )
    return {"data": [template_json(row, with_body=False) for row in rows], "next_cursor": next_cursor}


@api_route("/tx-templates/<public_id>", responses={200: TxTemplateSchema}, operation_id="getTxTemplate")
def tx_template_show(public_id: str):
    """One transactional template, with its body"""
    return template_json(template_or_404(public_id))


@api_route(
    "/tx-templates",
    ("POST",),
    body=TxTemplateCreate,
    responses={201: TxTemplateSchema},
    errors=REFUSED,
    operation_id="createTxTemplate",
)
def tx_template_create(body: dict):
    """Create a transactional template

    The admin editor's checks: a free key, a name, a one-line subject, a body that parses and renders in the
    sandbox with the sample data, a valid reply-to, a known relay. Refused with every problem (422).
    """
    return template_json(_save(body, None)), 201


@api_route(
    "/tx-templates/<public_id>",
    ("PATCH",),
    body=TxTemplateWrite,
    responses={200: TxTemplateSchema},
    errors=REFUSED,
    operation_id="updateTxTemplate",
)
def tx_template_update(public_id: str, body: dict):
    """Change a transactional template

    Fields left out stay as they are; the same checks as on creation. Messages already queued are sent with
    the new version.
    """
    template = template_or_404(public_id)
    if not body:
        raise ApiError(422, "Nothing to change: send at least one field.")
    return template_json(_save(body, template))


def _archive(public_id: str, archive: bool) -> dict:
    template = template_or_404(public_id)
    if (template.archived_at is not None) == archive:
        state = "already archived" if archive else "not archived"
        raise ApiError(409, f"The template is {state}.", {"archived": not archive})
    tx_templates.set_archived(template, archive, via=via())
    return template_json(template)


@api_route(
    "/tx-templates/<public_id>/archive",
    ("POST",),
    responses={200: TxTemplateSchema},
    errors={409: "The template is already archived."},
    operation_id="archiveTxTemplate",
)
def tx_template_archive(public_id: str):
    """Archive a transactional template

    POST /tx refuses it from now on (409); its sent log stays. Audited.
    """
    return _archive(public_id, True)


@api_route(
    "/tx-templates/<public_id>/unarchive",
    ("POST",),
    responses={200: TxTemplateSchema},
    errors={409: "The template is not archived."},
    operation_id="unarchiveTxTemplate",
)
def tx_template_unarchive(public_id: str):
    """Restore an archived transactional template

    POST /tx sends it again. Audited.
    """
    return _archive(public_id, False)


@api_route(
    "/tx-templates/<public_id>/preview",
    ("POST",),
    body=TxPreviewRequest,
    responses={200: TxPreviewSchema},
    errors=NOT_RENDERED,
    operation_id="previewTxTemplate",
    idempotent=False,  # renders, changes nothing
)
def tx_template_preview(public_id: str, body: dict):
    """Preview a transactional template with merge data

    Its subject, HTML and text as a message to the sample recipient (Jane Doe, jane.doe@example.com) with
    this data (the sample data when left out). Nothing is stored or sent.
    """
    template = template_or_404(public_id)
    return _rendered(template, _merge_data(body))


@api_route(
    "/tx-templates/preview",
    ("POST",),
    body=TxDraftPreviewRequest,
    responses={200: TxPreviewSchema},
    errors=NOT_RENDERED,
    operation_id="previewTxTemplateDraft",
    idempotent=False,  # renders, changes nothing
)
def tx_template_draft_preview(body: dict):
    """Preview an unsaved transactional template

    As the editor's Preview button: the subject and body given here rendered with the merge data (the
    sample data when left out), before creating or changing a template. Nothing is stored.
    """
    trial = TxTemplate(subject=body["subject"], body=body["body"], body_format=body["body_format"])
    return _rendered(trial, _merge_data(body))


@api_route(
    "/tx-templates/<public_id>/test",
    ("POST",),
    body=TxTestRequest,
    responses={202: TxAcceptedSchema},
    errors={
        **NOT_RENDERED,
        422: "The address is not valid or is suppressed, the contact restricted or erased, or the template "
        "can't be rendered with this data (detail.reason).",
        429: TEST_SENDS_SPENT,
    },
    operation_id="sendTxTemplateTest",
)
def tx_template_test(public_id: str, body: dict):
    """Send a test of a transactional template

    To one address, with the merge data (the sample data when left out), subject marked "[TEST]"; it goes
    out through the template's relay as a real message would, and shows in GET /tx with `test: true`.
    Refused like any message to a restricted, erased or suppressed recipient. Audited. Each test spends one
    of the key's creator's test sends (TEST_SEND_RATE_LIMIT, shared with the admin and every kind of test);
    once they are spent, 429 with Retry-After.
    """
    template = template_or_404(public_id)
    refuse_when_test_sends_spent()
    data = _merge_data(body)
    try:
        message = tx.queue_test(template, body["email"], data, via=via())
    except tx.TxRefused as exc:
        db.session.rollback()
        if exc.reason == "bad_address":
            raise ApiError(422, "Some values are not valid.", {"email": exc.message}) from None
        raise ApiError(exc.status, exc.message, {"reason": exc.reason}) from None
    test_sends.spend()
    return accepted_json(message), 202
