"""Bulk actions through the API, as on the contacts page: tag, untag, add to or remove from a list, ask to
re-confirm a list, or erase, over chosen contacts or a segment's members; a job's progress; the jobs.

Every rule is mailer.bulk's (the admin's review page calls the same plan and start_job): a list addition
states its consent basis (and, for consent obtained elsewhere, where and how); an erasure states its reason
and is confirmed by typing ERASE and the number of contacts, exactly as the admin asks (POST
/bulk-jobs/preview gives that number first). The selection is frozen when the job starts; a worker runs it
in batches that survive restarts. The job is recorded as started by the staff member who created the API
key (the ledger's and the erasure register's door for a staff action).
"""

from flask import g
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from mailer.api.errors import ApiError
from mailer.api.fields import RequestSchema, Text, TextList, page_of, public_id, timestamp
from mailer.api.inputs import PageQuery, paged
from mailer.api.routing import api_route
from mailer.api.schemas import one_of
from mailer.api.serializers import iso
from mailer.bulk import operations as bulk
from mailer.bulk.models import BulkJob
from mailer.core.extensions import db
from mailer.segments.conditions import SegmentError
from mailer.segments.models import Segment
from mailer.staff.models.accounts import PRIVACY_ROLES, StaffUser

ACTIONS = (*bulk.ACTIONS, bulk.ERASE)
ACTION_HELP = (
    "tag / untag (`tag`), list_add (`list_id`, `basis`, and `statement` for consent obtained elsewhere), "
    "list_remove (`list_id`), list_reconfirm (`list_id`, `days`), erase (`reason`, `confirm`)."
)


class BulkSelection(RequestSchema):
    """What to do and with whom: `contacts` (at most 1,000 public ids) or a `segment_id`."""

    action = Text(
        required=True,
        validate=validate.OneOf(ACTIONS, error="must be one of " + ", ".join(ACTIONS)),
        metadata={"description": ACTION_HELP},
    )
    tag = Text(max_length=60, metadata={"description": "tag, untag: the tag's name."})
    list_id = Text(metadata={"description": "list_add, list_remove, list_reconfirm: the list's public id."})
    contacts = TextList(max_items=bulk.MAX_PICKED, metadata={"description": "Contacts' public ids."})
    segment_id = Text(metadata={"description": "Every member of this segment (frozen when the job starts)."})


class BulkStart(BulkSelection):
    basis = Text(
        validate=validate.OneOf(list(bulk.BASES), error="must be one of " + ", ".join(bulk.BASES)),
        metadata={"description": "list_add: the consent basis."},
    )
    statement = Text(
        multiline=True,
        max_length=2000,
        metadata={"description": "list_add with prior_consent: where and how they consented."},
    )
    reason = Text(max_length=bulk.MAX_REASON, metadata={"description": "erase: why (for the register)."})
    confirm = Text(
        max_length=40,
        metadata={"description": "erase: type `ERASE <n>`, n being the total POST /bulk-jobs/preview gives."},
    )
    days = fields.Integer(
        strict=True,
        validate=validate.Range(min=-100_000, max=100_000, error="is out of range"),
        metadata={"description": "list_reconfirm: days people have to answer."},
    )


class BulkPlanSchema(Schema):
    action = one_of(ACTIONS)
    subject = fields.String(metadata={"description": "What it does, in words."})
    total = fields.Integer(metadata={"description": "How many contacts it covers now."})
    confirm = fields.String(
        allow_none=True, metadata={"description": "erase: the words to send as `confirm`; null otherwise."}
    )


class BulkJobSchema(Schema):
    id = public_id()
    action = one_of(ACTIONS)
    subject = fields.String()
    selection = fields.String(metadata={"description": "Whom it covers, in words."})
    status = one_of(("queued", "running", "done"))
    total = fields.Integer()
    processed = fields.Integer()
    changed = fields.Integer()
    skipped = fields.Integer(
        metadata={"description": "Left alone (e.g. people who left the list themselves)."}
    )
    percent = fields.Integer()
    created_at = timestamp()
    finished_at = timestamp()


BulkJobPageSchema = page_of(BulkJobSchema, "BulkJobPage")


def job_json(job: BulkJob) -> dict:
    progress = bulk.progress(job)
    return {
        "id": job.public_id,
        "action": job.action,
        "subject": bulk.subject(job),
        "selection": bulk.described(job),
        "status": progress["status"],
        "total": progress["total"],
        "processed": progress["processed"],
        "changed": progress["changed"],
        "skipped": progress["skipped"],
        "percent": progress["percent"],
        "created_at": iso(job.created_at),
        "finished_at": iso(job.finished_at),
    }


def _selection(body: dict):
    """(action, argument, picked contacts, segment) as the admin's review page reads them."""
    if ("contacts" in body) == ("segment_id" in body):
        raise ApiError(
            422,
            "Send either `contacts` or `segment_id`.",
            {"body": "name the contacts or a segment, not both"},
        )
    action = body["action"]
    argument = body.get("list_id" if action in bulk.LIST_ACTIONS else "tag", "")
    segment = None
    if "segment_id" in body:
        segment = db.session.execute(
            select(Segment).where(Segment.public_id == body["segment_id"][:32])
        ).scalar_one_or_none()
        if segment is None:
            raise ApiError(422, "There is no segment with this id.", {"segment_id": "unknown id"})
    try:
        picked = bulk.picked_contacts(body.get("contacts", []))
    except bulk.BulkError as exc:
        raise ApiError(422, str(exc), {"contacts": str(exc)}) from None
    return action, argument, picked, segment


def _refused(exc: Exception) -> ApiError:
    db.session.rollback()
    return ApiError(422, str(exc), {"bulk": str(exc)})


@api_route(
    "/bulk-jobs/preview",
    ("POST",),
    body=BulkSelection,
    responses={200: BulkPlanSchema},
    errors={422: "A value is not valid, or the action can't be done (no such tag or list, nobody selected)."},
    operation_id="previewBulkJob",
    idempotent=False,  # changes nothing (auth.READING_POSTS)
)
def bulk_preview(body: dict):
    """Check a bulk action before starting it

    Changes nothing (read-only keys may call it): what it does and how many contacts it covers now, and for
    an erasure the confirmation words to send when starting it.
    """
    action, argument, picked, segment = _selection(body)
    try:
        planned = bulk.plan(action, argument, picked, segment)
    except (bulk.BulkError, SegmentError) as exc:
        raise _refused(exc) from None
    subject = bulk.LABELS[action]
    if planned.name:
        subject = f"{subject} “{planned.name}”"
    confirm = f"ERASE {planned.total}" if action == bulk.ERASE else None
    return {"action": action, "subject": str(subject), "total": planned.total, "confirm": confirm}


@api_route(
    "/bulk-jobs",
    ("POST",),
    body=BulkStart,
    responses={202: BulkJobSchema},
    errors={
        403: "An erasure needs a key created by an owner or a privacy officer (as in the admin).",
        422: "A value is not valid, or the action can't start: a list addition without its consent basis, an "
        "erasure without its reason or its typed confirmation (`ERASE <n>`); the message says which.",
    },
    operation_id="startBulkJob",
)
def bulk_start(body: dict):
    """Start a bulk action

    The selection is frozen now and a worker runs it in batches (GET /bulk-jobs/{public_id} shows its
    progress). Restricted and erased contacts are left alone (a restricted one can still be erased).
    """
    action, argument, picked, segment = _selection(body)
    options = bulk.Options(
        basis=body.get("basis", ""),
        statement=body.get("statement", ""),
        reason=body.get("reason", ""),
        confirmation=body.get("confirm", ""),
        days=str(body.get("days", "")),
    )
    actor = db.session.get(StaffUser, g.api_key.created_by_id) if g.api_key.created_by_id else None
    if action == bulk.ERASE and (actor is None or not actor.active or actor.role not in PRIVACY_ROLES):
        # The admin lets only owners and privacy officers erase in bulk; a key acts for the one who made it.
        raise ApiError(
            403,
            "Erasing contacts in bulk needs an API key created by an owner or a privacy officer who is still "
            "active.",
            {"action": action},
        )
    try:
        job = bulk.start_job(action, argument, picked, segment, actor, options=options)
    except (bulk.BulkError, SegmentError) as exc:
        raise _refused(exc) from None
    db.session.commit()
    return job_json(job), 202


@api_route("/bulk-jobs", query=PageQuery, responses={200: BulkJobPageSchema}, operation_id="listBulkJobs")
def bulk_jobs_index(query: dict):
    """Bulk jobs

    Oldest first, one page at a time, each with its progress.
    """
    return paged(query, select(BulkJob), BulkJob, BulkJob.public_id, job_json)


@api_route("/bulk-jobs/<public_id>", responses={200: BulkJobSchema}, operation_id="getBulkJob")
def bulk_job_show(public_id: str):
    """One bulk job's progress"""
    job = bulk.job_by_public_id(public_id[:32])
    if job is None:
        raise ApiError(404, "There is no bulk job with this id.", {"job_id": public_id[:64]})
    return job_json(job)
