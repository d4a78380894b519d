"""Saved segments through the API: list, get, create, change, delete, and how many contacts match now.

A segment's conditions are the same AND/OR tree the admin's builder saves (segments.conditions checks it);
its members are listed by GET /contacts?segment=<id>.
"""

from flask import g, jsonify, request
from sqlalchemy import select

from mailer.api.blueprint import api_route
from mailer.api.errors import ApiError
from mailer.api.inputs import invalid, json_object, keyset_page, page_args, refuse_unknown, string
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


@api_route("/segments")
def segments_index():
    """Saved segments, oldest first, one page at a time."""
    after, limit = page_args()
    rows, next_cursor = keyset_page(select(Segment), Segment, Segment.public_id, after, limit)
    return jsonify(data=[segment_json(segment) for segment in rows], next_cursor=next_cursor)


@api_route("/segments", methods=("POST",))
def segment_create():
    """Save a new segment: {"name": …, "conditions": {"match": "all"|"any", "rules": [...]}}."""
    body = json_object()
    refuse_unknown(body, {"name", "conditions"})
    name = string(body, "name", required=True)
    if "conditions" not in body:
        raise invalid("conditions", "this field is required")
    return jsonify(segment_json(_save(None, name, body["conditions"]))), 201


@api_route("/segments/<public_id>")
def segment_show(public_id: str):
    """One saved segment."""
    return jsonify(segment_json(_segment(public_id)))


@api_route("/segments/<public_id>", methods=("PATCH",))
def segment_update(public_id: str):
    """Rename a segment or replace its conditions (either or both)."""
    segment = _segment(public_id)
    body = json_object()
    refuse_unknown(body, {"name", "conditions"})
    if not body:
        raise ApiError(422, "Nothing to change: send name, conditions or both.")
    name = string(body, "name")
    saved = _save(segment, segment.name if name is None else name, body.get("conditions", segment.tree))
    return jsonify(segment_json(saved))


@api_route("/segments/<public_id>", methods=("DELETE",))
def segment_remove(public_id: str):
    """Delete a saved segment (its contacts stay); 409 while a campaign is sent to it."""
    segment = _segment(public_id)
    try:
        delete_segment(segment, None, ip=request.remote_addr, via=_via())
    except SegmentError as exc:
        db.session.rollback()
        raise ApiError(409, str(exc), {"segment_id": segment.public_id}) from None
    db.session.commit()
    return "", 204


@api_route("/segments/<public_id>/count")
def segment_count(public_id: str):
    """How many contacts match now, and per tracking purpose how many an activity condition cannot see."""
    segment = _segment(public_id)
    try:
        counted = count(segment.tree)
    except SegmentError as exc:  # a field or list it names is gone since it was saved
        message = f"The segment can't be counted: {exc}"
        raise ApiError(409, message, {"segment_id": segment.public_id}) from None
    return jsonify(segment_id=segment.public_id, count=counted.matching, unseen=counted.unseen)
