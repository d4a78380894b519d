"""GET /lists and GET /lists/<id>: mailing lists and their subscriber counts (archived ones on request)."""

from flask import g, request
from marshmallow import validate
from sqlalchemy import select

from mailer.api.bulk import BulkJobSchema, job_json
from mailer.api.errors import ApiError
from mailer.api.fields import RequestSchema, Text
from mailer.api.inputs import PageQuery, keyset_page, page_args
from mailer.api.routing import api_route
from mailer.api.schemas import ListPageSchema, ListSchema
from mailer.api.serializers import list_json
from mailer.bulk import operations as bulk
from mailer.core.extensions import db
from mailer.subscriptions import lists as list_service
from mailer.subscriptions.lists import list_counts
from mailer.subscriptions.models.lists import MailingList


class ListQuery(PageQuery):
    archived = Text(
        load_default="false",
        validate=validate.OneOf(["true", "false"], error="must be true or false"),
        metadata={"description": "`true` for the archived lists (which take no sign-ups)."},
    )


def list_by_public_id(public_id: str) -> MailingList:
    """The list with this id, or a JSON 404."""
    mailing_list = db.session.execute(
        select(MailingList).where(MailingList.public_id == public_id, MailingList.deleted_at.is_(None))
    ).scalar_one_or_none()
    if mailing_list is None:
        raise ApiError(404, "There is no list with this id.", {"list_id": public_id[:64]})
    return mailing_list


@api_route("/lists", query=ListQuery, responses={200: ListPageSchema}, operation_id="listLists")
def lists_index(query: dict):
    """Mailing lists with subscriber counts

    The active lists (or, with `archived=true`, the archived ones), oldest first, one page at a time.
    """
    after, limit = page_args(query)
    archived = query["archived"] == "true"
    where = MailingList.archived_at.is_not(None) if archived else MailingList.archived_at.is_(None)
    rows, next_cursor = keyset_page(
        select(MailingList).where(where, MailingList.deleted_at.is_(None)),
        MailingList,
        MailingList.public_id,
        after,
        limit,
    )
    counts = list_counts()
    return {"data": [list_json(lst, counts.get(lst.id, {})) for lst in rows], "next_cursor": next_cursor}


@api_route(
    "/lists/<public_id>",
    responses={200: ListSchema},
    operation_id="getList",
)
def list_show(public_id: str):
    """One mailing list"""
    mailing_list = list_by_public_id(public_id)
    return list_json(mailing_list, list_counts().get(mailing_list.id, {}))


# --- changing lists: the admin's operations (mailer.subscriptions.lists) -----------------------------------


class ListWrite(RequestSchema):
    """A list's name, description and visibility; on PATCH, only what changes."""

    name = Text(max_length=120, metadata={"description": "Shown to subscribers (emails, preference centre)."})
    description = Text(multiline=True, metadata={"description": "At most 5,000 characters."})
    visibility = Text(
        validate=validate.OneOf(["public", "private"], error="must be public or private"),
        metadata={"description": "private: not offered in the preference centre."},
    )


class ListCreate(ListWrite):
    name = Text(required=True, max_length=120, metadata={"description": "Shown to subscribers."})


class ListDelete(RequestSchema):
    confirm_name = Text(
        required=True, max_length=200, metadata={"description": "The list's name, typed to confirm."}
    )


def _list_error(exc: list_service.ListError, status: int = 422) -> ApiError:
    db.session.rollback()
    return ApiError(status, str(exc), {"list": str(exc)})


def _via() -> dict:
    """What the audit entry adds: the change came through the API, with this key."""
    return {"via": "api", "api_key": g.api_key_prefix}


def _shown(mailing_list: MailingList) -> dict:
    return list_json(mailing_list, list_counts().get(mailing_list.id, {}))


@api_route(
    "/lists",
    ("POST",),
    body=ListCreate,
    responses={201: ListSchema},
    errors={422: "A value is not valid (e.g. an empty name or one on several lines)."},
    operation_id="createList",
)
def list_create(body: dict):
    """Create a mailing list

    With its consent purpose (what people agree to when they subscribe), as the admin does.
    """
    try:
        mailing_list = list_service.create_list(
            body["name"], body.get("description", ""), body.get("visibility", "public")
        )
    except list_service.ListError as exc:
        raise _list_error(exc) from None
    db.session.commit()
    return _shown(mailing_list), 201


@api_route(
    "/lists/<public_id>",
    ("PATCH",),
    body=ListWrite,
    responses={200: ListSchema},
    errors={422: "A value is not valid."},
    operation_id="updateList",
)
def list_update(public_id: str, body: dict):
    """Rename or re-describe a mailing list

    Its consent purpose keeps in step. Fields left out stay as they are.
    """
    mailing_list = list_by_public_id(public_id)
    if not body:
        raise ApiError(422, "Nothing to change: send at least one field.")
    try:
        list_service.update_list(
            mailing_list,
            body.get("name", mailing_list.name),
            body.get("description", mailing_list.description),
            body.get("visibility", mailing_list.visibility),
        )
    except list_service.ListError as exc:
        raise _list_error(exc) from None
    db.session.commit()
    return _shown(mailing_list)


def _archive(public_id: str, change) -> dict:
    mailing_list = list_by_public_id(public_id)
    try:
        change(mailing_list, None, request.remote_addr, _via())
    except list_service.ListError as exc:
        raise _list_error(exc, 409) from None
    db.session.commit()
    return _shown(mailing_list)


@api_route(
    "/lists/<public_id>/archive",
    ("POST",),
    responses={200: ListSchema},
    errors={409: "The list is already archived."},
    operation_id="archiveList",
)
def list_archive(public_id: str):
    """Archive a mailing list

    It leaves every preference centre and form (a form offering no other list stops taking sign-ups) and
    can't be chosen for a new campaign; its subscriptions and history stay. Audited.
    """
    return _archive(public_id, list_service.archive_list)


@api_route(
    "/lists/<public_id>/unarchive",
    ("POST",),
    responses={200: ListSchema},
    errors={409: "The list is not archived."},
    operation_id="unarchiveList",
)
def list_unarchive(public_id: str):
    """Bring an archived list back

    Offered again where it was before. Audited.
    """
    return _archive(public_id, list_service.unarchive_list)


@api_route(
    "/lists/<public_id>/delete",
    ("POST",),
    body=ListDelete,
    responses={202: BulkJobSchema},
    errors={422: "The typed name is not the list's name."},
    operation_id="deleteList",
)
def list_delete(public_id: str, body: dict):
    """Delete a mailing list

    As in the admin, after typing its name. At once the list is deleted for everything else: it takes no
    sign-ups, leaves every form and preference centre and no campaign can be sent to it (GET answers 404
    from now on). Its open subscriptions then end in the background, each with a "withdrawn" ledger event
    (the contacts stay), and it stays as a tombstone so history still names it; audited when done. Answers
    202 with the job: poll GET /bulk-jobs/{id} until its status is `done` (a small list is done at once).
    """
    mailing_list = list_by_public_id(public_id)
    try:
        job = bulk.start_list_delete(mailing_list, body["confirm_name"], None, request.remote_addr, _via())
    except list_service.ListError as exc:
        raise _list_error(exc) from None
    db.session.commit()
    if job.total <= list_service.DELETE_BATCH:  # one batch: at once, by the same path
        bulk.run_job(job.id)
        db.session.refresh(job)
    return job_json(job), 202
