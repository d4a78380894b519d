"""Declaring API endpoints: `api_route` with its schemas, and the registry the document is built from.

How to add an endpoint (the one pattern every view module follows)
-------------------------------------------------------------------
Declare the request and response shapes once, as marshmallow schemas, and name them in `api_route`::

    class HookWrite(RequestSchema):              # mailer.api.fields: refuses unknown keys, our messages
        url = Text(required=True, max_length=2000)
        events = TextList(max_items=20)

    @api_route("/webhooks", ("POST",), body=HookWrite, responses={201: HookSchema},
               errors={409: "Why a 409 happens here."}, summary="Register a webhook endpoint")
    def webhook_create(body: dict):
        hook = webhooks.create(...)               # one operation, the same the admin calls
        return hook_json(hook), 201               # dumped through HookSchema

- `body=` loads the JSON body through the schema before the view runs: 415 if it isn't JSON, 400 if it
  doesn't parse, 413 beyond API_MAX_BODY_BYTES, 422 with {"field.path": "message"} for each wrong value.
  The view gets the loaded dict as `body` (keys the caller left out are absent, not None).
- `query=` does the same for the query string (unknown parameters are refused too) and passes `query`.
- `responses=` maps each success status to its schema (None for an empty answer such as a 204). A view
  returns a dict (or a (dict, status) pair), dumped through that schema, so only what the document
  declares leaves; or a Response when it must (e.g. a body shape chosen at run time, see `respond`).
- `operation_id=` names the operation for generated clients (default: the view's name in camelCase);
  `summary=` overrides the docstring's first paragraph, which the document shows (the rest describes it).
- `headers=` documents request headers the view reads ({"Idempotency-Key": {"description": …, "schema": …}}).
- Every POST takes an `Idempotency-Key` header (mailer.api.idempotency: a retry answers the first answer
  again and makes nothing twice), documented here automatically; `idempotent=False` leaves it out (POSTs
  that change nothing, or POST /tx, which keeps its own key with the message it stores).
- `errors=` adds statuses (409 …) with what they mean here; 401/429 (every call), 403 (writes), 404 (paths
  with ids), 400/413/415/422 (bodies) and 422 (queries) are documented without being named.
- Rules stay in the domain operations: a schema checks shapes and types, never a business rule.

The OpenAPI document at /api/v1/openapi.json is generated from these declarations (mailer.api.openapi,
with apispec), and tests/api/test_fuzz.py fuzzes every operation in it with schemathesis.
"""

import functools
from dataclasses import dataclass, field

from flask import Response, jsonify, request
from marshmallow import Schema, ValidationError
from werkzeug.datastructures import FileStorage

from mailer.api.blueprint import bp, per_key_limit
from mailer.api.errors import ApiError
from mailer.api.fields import flatten_errors
from mailer.api.idempotency import documented, once_per_key
from mailer.api.inputs import json_object, raw_body
from mailer.core.web import accepts_upload


@dataclass
class Upload:
    """A multipart/form-data body: one file part (`file_part`) and text parts loaded through `form` (which
    also declares the file part, for the document); the whole body may be as large as the `limit_setting`
    config value in MB (instead of API_MAX_BODY_BYTES)."""

    file_part: str
    form: type[Schema]
    limit_setting: str
    # Also taken as the whole body of one of these types (e.g. text/csv): the file without multipart framing.
    raw_types: tuple[str, ...] = ()


@dataclass
class FileAnswer:
    """A success answer that is a file (e.g. a CSV), not JSON: its media type and what it holds."""

    media_type: str
    description: str


@dataclass
class Operation:
    """What the document says about one endpoint, taken from its `api_route` declaration."""

    rule: str
    method: str
    view: object
    operation_id: str
    summary: str
    description: str
    body: type[Schema] | None = None
    query: type[Schema] | None = None
    upload: Upload | None = None
    responses: dict[int, object] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    headers: dict[str, dict] = field(default_factory=dict)


# endpoint name -> its declaration, in the order the views were registered
OPERATIONS: dict[str, Operation] = {}


def load(schema: type[Schema], data) -> dict:
    """Input checked and converted by a schema; a 422 naming each wrong field otherwise."""
    try:
        return schema().load(data)
    except ValidationError as exc:
        detail = flatten_errors(exc.messages)
        only_unknown = all(text == "unknown field" for text in detail.values())
        message = "Unknown fields in the request." if only_unknown else "Some values are not valid."
        raise ApiError(422, message, detail) from None


def uploaded(upload: Upload) -> tuple[dict, FileStorage | None]:
    """A multipart body's text parts (checked by the form schema) and its file; for a raw body of one of the
    upload's `raw_types`, no text parts and the body as the file (spooled to disk as it arrives); 415 for any
    other body."""
    if request.mimetype in upload.raw_types:
        return {}, FileStorage(raw_body(), filename="", content_type=request.mimetype)
    if request.mimetype != "multipart/form-data":
        raw = "".join(f" or as the whole body ({media_type})" for media_type in upload.raw_types)
        raise ApiError(
            415, f"Send the {upload.file_part} as multipart/form-data (a “{upload.file_part}” part){raw}."
        )
    form = request.form.to_dict()
    for name in request.files:
        if name != upload.file_part:
            form[name] = ""  # refused by the schema as an unknown field, like any other
    form.pop(upload.file_part, None)  # the file sent as a text part: as if it were missing
    return load(upload.form, form), request.files.get(upload.file_part)


def respond(schema: type[Schema] | None, data, status: int = 200) -> Response:
    """An answer dumped through its schema (an empty body when there is none, e.g. 204)."""
    if schema is None:
        return Response(status=status)
    response = jsonify(schema().dump(data))
    response.status_code = status
    return response


def _camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def api_route(
    rule: str,
    methods: tuple[str, ...] = ("GET",),
    *,
    responses: dict[int, object],
    body: type[Schema] | None = None,
    query: type[Schema] | None = None,
    errors: dict[int, str] | None = None,
    summary: str | None = None,
    parameters: dict[str, str] | None = None,
    operation_id: str | None = None,
    upload: Upload | None = None,
    headers: dict[str, dict] | None = None,
    idempotent: bool = True,
):
    """Register an authenticated endpoint with its schemas; every one shares its key's rate limit, so none
    can be forgotten, and every one is in the OpenAPI document."""
    (method,) = methods
    idempotent = idempotent and method == "POST"
    if idempotent:
        headers, errors = documented(headers, errors, has_body=body is not None or upload is not None)

    def decorate(view):
        def run(view_args):
            if query is not None:
                view_args["query"] = load(query, request.args.to_dict())
            if body is not None:
                view_args["body"] = load(body, json_object())
            if upload is not None:
                view_args["form"], view_args["file"] = uploaded(upload)
            result = view(**view_args)
            if isinstance(result, Response):
                return result
            data, status = result if isinstance(result, tuple) else (result, min(responses))
            return respond(responses[status], data, status)

        @functools.wraps(view)
        def checked(**view_args):
            if idempotent:
                return once_per_key(lambda: run(view_args))
            return run(view_args)

        doc = (view.__doc__ or "").strip()
        first, _, rest = doc.partition("\n\n")
        OPERATIONS[f"{bp.name}.{view.__name__}"] = Operation(
            rule=rule,
            method=method,
            view=view,
            operation_id=operation_id or _camel_case(view.__name__),
            summary=summary or " ".join(first.split()),
            description=" ".join(rest.split()),
            body=body,
            query=query,
            upload=upload,
            responses=responses,
            errors=errors or {},
            parameters=parameters or {},
            headers=headers or {},
        )
        registered = per_key_limit(checked)
        if upload is not None:
            registered = accepts_upload(upload.limit_setting, upload.file_part, upload.raw_types)(registered)
        return bp.route(rule, methods=[method])(registered)

    return decorate
