"""GET /lists and GET /lists/<id>: mailing lists and their subscriber counts (archived ones on request)."""

from marshmallow import validate
from sqlalchemy import select

from mailer.api.errors import ApiError
from mailer.api.fields import Text
from mailer.api.inputs import PageQuery, keyset_page, page_args
from mailer.api.routing import api_route
from mailer.api.schemas import ListPageSchema, ListSchema
from mailer.api.serializers import list_json
from mailer.core.extensions import db
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
