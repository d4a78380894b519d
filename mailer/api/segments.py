"""Saved segments through the API: list, get, create, change, delete, and how many contacts match now.

A segment's conditions are the same AND/OR tree the admin's builder saves (segments.conditions checks it);
its members are listed by GET /contacts?segment=<id>.
"""

from flask import g, request
from marshmallow import fields
from sqlalchemy import select

from mailer.api.errors import ApiError
from mailer.api.fields import REQUIRED, RequestSchema, Text
from mailer.api.inputs import PageQuery, invalid, paged
from mailer.api.routing import api_route
from mailer.api.schemas import ConditionsCountSchema, SegmentCountSchema, SegmentPageSchema, SegmentSchema
from mailer.api.serializers import segment_json
from mailer.core.extensions import db
from mailer.segments.conditions import SegmentError, count
from mailer.segments.models import Segment
from mailer.segments.operations import (
    SegmentNameError,
    delete_segment,
    save_segment,
    segment_by_public_id,
)

CONDITIONS = {
    "type": "object",
    "description": "An AND/OR group: `match` is `all` or `any`; each rule is a condition "
    '`{"field": …, "op": …, "value": …}` or a nested group (the fields and operators of the '
    "admin's segment builder: built-in fields such as `email`, `status`, `list`, `consent`, `tag`, "
    "`opened`, `clicked`, and custom fields as `field:<key>`; sensitive fields are refused). "
    "Checked as the builder checks it: a 422 names `conditions` with the reason.",
    "required": ["match", "rules"],
    "properties": {
        "match": {"type": "string", "enum": ["all", "any"]},
        "rules": {"type": "array", "items": {"type": "object"}},
    },
}


class SegmentWrite(RequestSchema):
    """A segment's name and conditions (both required to create one; either or both to change one)."""

    name = Text(metadata={"maxLength": 120})
    # The tree is checked by segments.conditions, the builder's own rule, not by a second spelling here.
    conditions = fields.Raw(metadata=CONDITIONS)


class ConditionsCount(RequestSchema):
    """An unsaved condition tree to count (what the builder's live count does)."""

    conditions = fields.Raw(
        required=True, metadata=CONDITIONS, error_messages={"required": REQUIRED, "null": "must be an object"}
    )


def _segment(public_id: str) -> Segment:
    segment = segment_by_public_id(public_id[:64])
    if segment is None:
        raise ApiError(404, "There is no segment with this id.", {"segment_id": public_id[:64]})
    return segment


def _via() -> dict:
    return {"via": "api", "api_key": g.api_key_prefix}


def _save(segment: Segment | None, name: str, conditions) -> Segment:
    try:
        saved = save_segment(name, conditions, None, segment, ip=request.remote_addr, via=_via())
    except SegmentNameError as exc:
        db.session.rollback()
        raise invalid("name", str(exc)) from None
    except SegmentError as exc:
        db.session.rollback()
        raise invalid("conditions", str(exc)) from None
    db.session.commit()
    return saved


@api_route("/segments", query=PageQuery, responses={200: SegmentPageSchema}, operation_id="listSegments")
def segments_index(query: dict):
    """Saved segments

    Oldest first, one page at a time. Their members: `GET /contacts?segment=<id>`.
    """
    return paged(query, select(Segment), Segment, Segment.public_id, segment_json)


@api_route(
    "/segments",
    ("POST",),
    body=SegmentWrite,
    responses={201: SegmentSchema},
    operation_id="createSegment",
)
def segment_create(body: dict):
    """Save a segment

    `name` and `conditions` are required. Conditions are checked as the builder checks them: a 422 names
    `name` or `conditions` with the reason (an unknown field, list or tag, a sensitive field, a value of the
    wrong type). Audited.
    """
    for required in ("name", "conditions"):
        if required not in body:
            raise invalid(required, REQUIRED)
    return segment_json(_save(None, body["name"], body["conditions"])), 201


@api_route(
    "/segments/<public_id>",
    responses={200: SegmentSchema},
    operation_id="getSegment",
)
def segment_show(public_id: str):
    """One saved segment"""
    return segment_json(_segment(public_id))


@api_route(
    "/segments/<public_id>",
    ("PATCH",),
    body=SegmentWrite,
    responses={200: SegmentSchema},
    operation_id="updateSegment",
)
def segment_update(public_id: str, body: dict):
    """Rename a segment or replace its conditions

    Send `name`, `conditions` or both. Audited.
    """
    segment = _segment(public_id)
    if not body:
        raise ApiError(422, "Nothing to change: send name, conditions or both.")
    saved = _save(segment, body.get("name", segment.name), body.get("conditions", segment.tree))
    return segment_json(saved)


@api_route(
    "/segments/<public_id>",
    ("DELETE",),
    responses={204: None},
    errors={409: "A campaign is sent to this segment: it is kept."},
    operation_id="deleteSegment",
)
def segment_remove(public_id: str):
    """Delete a saved segment (its contacts stay)

    Audited. Refused with 409 while a campaign is sent to it.
    """
    segment = _segment(public_id)
    try:
        delete_segment(segment, None, ip=request.remote_addr, via=_via())
    except SegmentError as exc:
        db.session.rollback()
        raise ApiError(409, str(exc), {"segment_id": segment.public_id}) from None
    db.session.commit()
    return {}, 204


@api_route(
    "/segments/<public_id>/count",
    responses={200: SegmentCountSchema},
    errors={409: "The segment names a field or list that is gone."},
    operation_id="countSegment",
)
def segment_count(public_id: str):
    """How many contacts a segment matches now

    And per tracking purpose, how many an activity condition cannot see (no consent to that tracking).
    """
    segment = _segment(public_id)
    try:
        counted = count(segment.tree)
    except SegmentError as exc:  # a field or list it names is gone since it was saved
        message = f"The segment can't be counted: {exc}"
        raise ApiError(409, message, {"segment_id": segment.public_id}) from None
    return {"segment_id": segment.public_id, "count": counted.matching, "unseen": counted.unseen}


@api_route(
    "/segments/count",
    ("POST",),
    body=ConditionsCount,
    responses={200: ConditionsCountSchema},
    operation_id="countConditions",
    idempotent=False,  # changes nothing (auth.READING_POSTS)
)
def conditions_count(body: dict):
    """How many contacts a condition tree matches now, without saving it

    The builder's live count: the same rules as a saved segment (a 422 names `conditions` with the reason),
    and per tracking purpose how many an activity condition cannot see. Changes nothing, so a read-only key
    may count too.
    """
    try:
        counted = count(body["conditions"])
    except SegmentError as exc:
        raise invalid("conditions", str(exc)) from None
    return {"count": counted.matching, "unseen": counted.unseen}
