"""GET /lists and GET /lists/<id>: mailing lists and their subscriber counts (archived ones on request)."""

from flask import jsonify, request
from sqlalchemy import select

from mailer.api.blueprint import api_route
from mailer.api.errors import ApiError
from mailer.api.inputs import invalid, keyset_page, page_args
from mailer.api.serializers import list_json
from mailer.core.extensions import db
from mailer.subscriptions.lists import list_counts
from mailer.subscriptions.models.lists import MailingList


def list_by_public_id(public_id: str) -> MailingList:
    """The list with this id, or a JSON 404."""
    mailing_list = db.session.execute(
        select(MailingList).where(MailingList.public_id == public_id, MailingList.deleted_at.is_(None))
    ).scalar_one_or_none()
    if mailing_list is None:
        raise ApiError(404, "There is no list with this id.", {"list_id": public_id[:64]})
    return mailing_list


@api_route("/lists")
def lists_index():
    """The active lists (or, with `?archived=true`, the archived ones), oldest first, one page at a time."""
    after, limit = page_args()
    archived = request.args.get("archived", "false")
    if archived not in ("true", "false"):
        raise invalid("archived", "must be true or false")
    query = select(MailingList).where(
        MailingList.archived_at.is_not(None) if archived == "true" else MailingList.archived_at.is_(None),
        MailingList.deleted_at.is_(None),
    )
    rows, next_cursor = keyset_page(query, MailingList, MailingList.public_id, after, limit)
    counts = list_counts()
    return jsonify(data=[list_json(lst, counts.get(lst.id, {})) for lst in rows], next_cursor=next_cursor)


@api_route("/lists/<public_id>")
def list_show(public_id: str):
    """One list."""
    mailing_list = list_by_public_id(public_id)
    return jsonify(list_json(mailing_list, list_counts().get(mailing_list.id, {})))
