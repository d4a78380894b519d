"""Exports of a list's or a saved segment's contacts to CSV through the API, as the admin's Export pages.

The rules are mailer.privacy.audience_export's: a stated `reason` (at least a few words) goes into the audit
log before any row leaves; sensitive fields are never in the file; restricted and erased contacts are left
out; every cell is safe to open in a spreadsheet; the file is streamed in keyset batches, so memory stays flat
however large the audience. In the admin only owners and admins export; a key acts for the staff member who
created it, so only a key created by an owner or admin who is still active may export (as bulk erasure asks
for a key made by an owner or privacy officer). The export changes nothing but the audit log, so read-only
keys of such a person may export too.
"""

from flask import Response, g, request, stream_with_context

from mailer.api.errors import ApiError
from mailer.api.fields import RequestSchema, Text
from mailer.api.inputs import invalid
from mailer.api.lists import list_by_public_id
from mailer.api.routing import FileAnswer, api_route
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.privacy.audience_export import MIN_REASON_LENGTH, Audience, csv_chunks, start_export
from mailer.segments.operations import segment_by_public_id
from mailer.staff.models.accounts import StaffUser

EXPORT_ROLES = ("owner", "admin")  # the admin's MANAGERS, who may export
CSV_FILE = FileAnswer(
    "text/csv",
    "The contacts, one a row: id, email, name, status, source, added_at, lists (each with its subscription "
    "state), then each custom field that is not sensitive (by its label). Streamed.",
)
ERRORS = {
    403: "The API key was not created by an owner or admin who is still active (only they export, as in the "
    "admin).",
    422: "The reason is missing or too short (`detail.reason`).",
}


class ExportRequest(RequestSchema):
    reason = Text(
        required=True,
        multiline=True,
        max_length=500,
        metadata={
            "description": f"Why this file is needed (at least {MIN_REASON_LENGTH} characters): written to "
            "the audit log with the key and the staff member who created it."
        },
    )


def _exporter() -> StaffUser:
    """The staff member the key acts for, when they may export; a 403 otherwise."""
    creator_id = g.api_key.created_by_id
    actor = db.session.get(StaffUser, creator_id) if creator_id else None
    if actor is None or not actor.active or actor.role not in EXPORT_ROLES:
        raise ApiError(
            403,
            "Exporting contacts needs an API key created by an owner or an admin who is still active.",
            {"role": actor.role if actor is not None else None},
        )
    return actor


def _export(audience: Audience, reason: str) -> Response:
    actor = _exporter()
    via = {"via": "api", "api_key": g.api_key_prefix}
    try:
        filename = start_export(audience, reason, actor, request.remote_addr, via=via)
    except PrivacyError as exc:
        db.session.rollback()
        raise invalid("reason", str(exc)) from None
    return Response(
        stream_with_context(csv_chunks(audience)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@api_route(
    "/lists/<public_id>/export",
    ("POST",),
    body=ExportRequest,
    responses={200: CSV_FILE},
    errors=ERRORS,
    idempotent=False,
    operation_id="exportList",
)
def list_export(public_id: str, body: dict):
    """Export a list's contacts to CSV

    Its contacts in any subscription state, neither restricted nor erased, sensitive fields left out. The
    reason is audited before the first row is sent.
    """
    return _export(Audience(mailing_list=list_by_public_id(public_id[:64])), body["reason"])


@api_route(
    "/segments/<public_id>/export",
    ("POST",),
    body=ExportRequest,
    responses={200: CSV_FILE},
    errors=ERRORS,
    idempotent=False,
    operation_id="exportSegment",
)
def segment_export(public_id: str, body: dict):
    """Export a saved segment's contacts to CSV

    The contacts it matches now, neither restricted nor erased, sensitive fields left out. The reason is
    audited before the first row is sent.
    """
    segment = segment_by_public_id(public_id[:64])
    if segment is None:
        raise ApiError(404, "There is no segment with this id.", {"segment_id": public_id[:64]})
    return _export(Audience(segment=segment), body["reason"])
