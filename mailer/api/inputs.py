"""Reading API input: the JSON body, typed fields with per-field messages, and cursor pagination."""

import json
import math
import re
from typing import Literal, overload

from flask import request
from sqlalchemy import Select

from mailer.api.errors import ApiError
from mailer.core.extensions import db
from mailer.core.text import has_controls

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# Every id the API gives out (public ids, ledger hashes) has this shape; anything else names nothing.
ID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
CONTROL_MESSAGE = "must not contain control characters (such as NUL, ESC or, outside text, line breaks)"


def is_id(value) -> bool:
    return isinstance(value, str) and ID_RE.match(value) is not None


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses to inf, which no JSON column can store
        raise ValueError("number out of range")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def invalid(field_name: str, message: str) -> ApiError:
    """A 422 naming the field that is wrong."""
    return ApiError(422, "Some values are not valid.", {field_name: message})


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


def refuse_unknown(body: dict, allowed: set[str], where: str = "") -> None:
    """Unknown keys are refused, so a typo never silently does nothing."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(
            422, "Unknown fields in the request.", {f"{where}{name}": "unknown field" for name in unknown}
        )


@overload
def string(
    body: dict,
    name: str,
    required: Literal[True],
    nullable: Literal[False] = False,
    where: str = "",
    multiline: bool = False,
) -> str: ...
@overload
def string(
    body: dict,
    name: str,
    required: bool = False,
    nullable: bool = False,
    where: str = "",
    multiline: bool = False,
) -> str | None: ...
def string(
    body: dict,
    name: str,
    required: bool = False,
    nullable: bool = False,
    where: str = "",
    multiline: bool = False,
) -> str | None:
    """A string field: missing → None (or 422 when required); any other type, or control characters → 422.

    Only a multiline field may hold line breaks and tabs; no field holds NUL, ESC or another control
    character.
    """
    if name not in body:
        if required:
            raise invalid(where + name, "this field is required")
        return None
    value = body[name]
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise invalid(where + name, "must be a string" + (" or null" if nullable else ""))
    if has_controls(value, multiline=multiline):
        raise invalid(where + name, CONTROL_MESSAGE)
    return value


@overload
def obj(body: dict, name: str, required: Literal[True], where: str = "") -> dict: ...
@overload
def obj(body: dict, name: str, required: bool = False, where: str = "") -> dict | None: ...
def obj(body: dict, name: str, required: bool = False, where: str = "") -> dict | None:
    if name not in body:
        if required:
            raise invalid(where + name, "this field is required")
        return None
    if not isinstance(body[name], dict):
        raise invalid(where + name, "must be an object")
    return body[name]


@overload
def string_list(body: dict, name: str, required: Literal[True], max_items: int = 100) -> list[str]: ...
@overload
def string_list(body: dict, name: str, required: bool = False, max_items: int = 100) -> list[str] | None: ...
def string_list(body: dict, name: str, required: bool = False, max_items: int = 100) -> list[str] | None:
    if name not in body:
        if required:
            raise invalid(name, "this field is required")
        return None
    value = body[name]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise invalid(name, "must be an array of strings")
    if len(value) > max_items:
        raise invalid(name, f"at most {max_items} items")
    if any(has_controls(item) for item in value):
        raise invalid(name, CONTROL_MESSAGE)
    return value


def page_args() -> tuple[str | None, int]:
    """`after` (the id of the last item already seen; `cursor` is accepted as its other name) and
    `limit` (1–200, default 50) from the query string."""
    raw_limit = request.args.get("limit", str(DEFAULT_PAGE_SIZE))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE_SIZE:
        raise invalid("limit", f"must be a whole number from 1 to {MAX_PAGE_SIZE}")
    after = request.args.get("after") or request.args.get("cursor") or None
    if after is not None and not is_id(after):
        raise invalid("after", "is not an id this API gave out")
    return after, int(raw_limit)


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
