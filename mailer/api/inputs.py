"""Reading API input: the JSON body, typed fields with per-field messages, and cursor pagination."""

import json
import math
import re
import tempfile
from typing import IO

from flask import request
from marshmallow import ValidationError, fields, validate
from sqlalchemy import Select, select

from mailer.api.errors import ApiError
from mailer.api.fields import RequestSchema, Text
from mailer.core.extensions import db

DEFAULT_PAGE_SIZE = 50
RAW_CHUNK = 1024 * 1024  # a raw upload is copied in pieces of this size (memory stays flat)
RAW_BODY_KEY = "mailer.api_raw_body"  # where the request keeps its spooled raw body (WSGI environ)
MAX_PAGE_SIZE = 200
# Every id the API gives out (public ids, ledger hashes) has this shape; anything else names nothing.
ID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
LIMIT_MESSAGE = f"must be a whole number from 1 to {MAX_PAGE_SIZE}"


def is_id(value) -> bool:
    return isinstance(value, str) and ID_RE.match(value) is not None


def _given_id(value: str) -> None:
    if value and not is_id(value):
        raise ValidationError("is not an id this API gave out")


class Limit(fields.Integer):
    """A page size from the query string: a whole number from 1 to MAX_PAGE_SIZE."""

    def __init__(self, **kwargs):
        super().__init__(
            strict=False,
            validate=validate.Range(min=1, max=MAX_PAGE_SIZE, error=LIMIT_MESSAGE),
            metadata={"description": f"How many items per page (1–{MAX_PAGE_SIZE})."},
            **kwargs,
        )
        self.error_messages.update(invalid=LIMIT_MESSAGE)

    def _deserialize(self, value, attr, data, **kwargs):
        if not (isinstance(value, str) and value.isdigit()):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses to inf, which no JSON column can store
        raise ValueError("number out of range")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def id_named(model, column, value: str | None, field_name: str) -> int | None:
    """The id of the row whose `column` holds `value` (e.g. a relay by its name); None stays None (the
    default); a 422 naming the field when nothing has it."""
    if value is None:
        return None
    found = db.session.execute(select(model.id).where(column == value)).scalar_one_or_none()
    if found is None:
        raise invalid(field_name, "unknown: " + value[:64])
    return found


def invalid(field_name: str, message: str) -> ApiError:
    """A 422 naming the field that is wrong."""
    return ApiError(422, "Some values are not valid.", {field_name: message})


def ids_of(model, public_ids: list[str], field_name: str) -> list[int]:
    """The row ids of the resources these public ids name, in order; a 422 naming the unknown ones."""
    rows = db.session.execute(select(model.public_id, model.id).where(model.public_id.in_(public_ids)))
    found: dict[str, int] = {row.public_id: row.id for row in rows}
    if unknown := [pid for pid in public_ids if pid not in found]:
        raise invalid(field_name, "unknown id(s): " + ", ".join(pid[:32] for pid in unknown[:10]))
    return [found[pid] for pid in public_ids]


def json_object() -> dict:
    """The request body as a JSON object: 415 if it isn't
    JSON, 400 if it doesn't parse, 422 if not an object."""
    if not request.is_json:
        raise ApiError(415)
    raw = request.get_data(cache=False)  # bounded by request.max_content_length (413 beyond it)
    try:
        body = json.loads(raw, parse_float=_finite_float, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        position = f" (at character {exc.pos})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ApiError(400, f"The body is not valid JSON{position}.") from None
    if not isinstance(body, dict):
        raise ApiError(422, "The body must be a JSON object.", {"body": "expected an object"})
    return body


def raw_body() -> IO[bytes]:
    """The request's raw body (an upload without multipart framing) as a file, read once from the stream in
    chunks and spooled to disk beyond RAW_CHUNK; bounded by request.max_content_length (413 beyond it). The
    same file for every caller of the request (the Idempotency-Key fingerprint, then the view)."""
    spooled = request.environ.get(RAW_BODY_KEY)
    if spooled is None:
        spooled = tempfile.SpooledTemporaryFile(max_size=RAW_CHUNK)  # noqa: SIM115 (closed with the request)
        while chunk := request.stream.read(RAW_CHUNK):
            spooled.write(chunk)
        request.environ[RAW_BODY_KEY] = spooled
    spooled.seek(0)
    return spooled


class PageQuery(RequestSchema):
    """`after` (the id of the last item already seen; `cursor` is its other name) and `limit`."""

    after = Text(
        validate=_given_id,
        metadata={"description": "Continue after the item with this id (the previous page's next_cursor)."},
    )
    cursor = Text(validate=_given_id, metadata={"description": "Another name for `after`."})
    limit = Limit(load_default=DEFAULT_PAGE_SIZE)


def page_args(query: dict) -> tuple[str | None, int]:
    """The cursor and page size of a query loaded through a PageQuery."""
    return query.get("after") or query.get("cursor") or None, query["limit"]


def keyset_page(
    query: Select, model, cursor_column, after: str | None, limit: int
) -> tuple[list, str | None]:
    """One page ordered by row id, continuing after the item whose public id is `after`; and the next cursor.

    Keyset paging (id > last id) stays fast and consistent however far a client pages.
    """
    if after is not None:
        after_id = db.session.execute(
            query.where(cursor_column == after).with_only_columns(model.id)
        ).scalar()
        if after_id is None:
            raise invalid("after", "no item has this id here; start again without “after”")
        query = query.where(model.id > after_id)
    rows = list(db.session.execute(query.order_by(model.id).limit(limit + 1)).scalars())
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = getattr(rows[-1], cursor_column.key) if has_more else None
    return rows, next_cursor


def paged(query: dict, rows_query: Select, model, cursor_column, to_json) -> dict:
    """The page a PageQuery asks for, as every listing answers it: {"data": [...], "next_cursor": ...}."""
    after, limit = page_args(query)
    rows, next_cursor = keyset_page(rows_query, model, cursor_column, after, limit)
    return {"data": [to_json(row) for row in rows], "next_cursor": next_cursor}
