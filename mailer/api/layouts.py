"""Layouts through the API, as in the admin: list, show, create, change, copy and delete.

The rules are mailer.campaigns.layouts': a layout is saved only with every required footer part (the
unsubscribe link, the organisation's postal address…) and when it renders in the sandbox; the built-in
layouts can't be changed or deleted (copy one and change the copy); a layout a campaign uses is kept.
"""

from marshmallow import Schema, fields
from sqlalchemy import select

from mailer.api.errors import ApiError
from mailer.api.fields import RequestSchema, Text, page_of, public_id, timestamp
from mailer.api.inputs import PageQuery, keyset_page, page_args
from mailer.api.routing import api_route
from mailer.api.serializers import iso
from mailer.campaigns import layouts as layout_service
from mailer.campaigns.models import Layout
from mailer.core.extensions import db

HTML_HELP = (
    "The layout's HTML: Jinja (sandboxed) with `{{ content }}` where the campaign goes and every required "
    f"footer part. At most {layout_service.MAX_HTML_LENGTH:,} characters (checked by the layouts' rules: "
    "a 422), within a body of at most API_MAX_BODY_BYTES."
)


class LayoutWrite(RequestSchema):
    """A layout; on PATCH, only what changes."""

    name = Text(max_length=layout_service.MAX_NAME_LENGTH)
    html = Text(multiline=True, metadata={"description": HTML_HELP})


class LayoutCreate(LayoutWrite):
    name = Text(required=True, max_length=layout_service.MAX_NAME_LENGTH)
    html = Text(required=True, multiline=True, metadata={"description": HTML_HELP})


class LayoutSchema(Schema):
    id = public_id()
    name = fields.String()
    builtin = fields.Boolean(metadata={"description": "Shipped with the product: copy it to change it."})
    verified = fields.Boolean(metadata={"description": "Has every required footer part."})
    used_by = fields.Integer(metadata={"description": "How many campaigns use it (it is kept while any)."})
    html = fields.String(metadata={"description": "Only on GET /layouts/{public_id} and writes."})
    created_at = timestamp()
    updated_at = timestamp()


LayoutPageSchema = page_of(LayoutSchema, "LayoutPage")
REFUSED = {
    422: "A value is not valid, or the layout lacks a required footer part or doesn't render: `detail` "
    "lists every problem."
}


def layout_json(layout: Layout, with_html: bool = True, used_by: int | None = None) -> dict:
    data = {
        "id": layout.public_id,
        "name": layout.name,
        "builtin": layout.builtin,
        "verified": layout.verified,
        "used_by": layout_service.usage_counts().get(layout.id, 0) if used_by is None else used_by,
        "created_at": iso(layout.created_at),
        "updated_at": iso(layout.updated_at),
    }
    if with_html:
        data["html"] = layout.html
    return data


def layout_or_404(public_id: str) -> Layout:
    layout = db.session.execute(select(Layout).where(Layout.public_id == public_id[:32])).scalar_one_or_none()
    if layout is None:
        raise ApiError(404, "There is no layout with this id.", {"layout_id": public_id[:64]})
    return layout


def _refused(exc: layout_service.LayoutError, status: int = 422) -> ApiError:
    db.session.rollback()
    return ApiError(status, str(exc), {"problems": exc.problems})


@api_route("/layouts", query=PageQuery, responses={200: LayoutPageSchema}, operation_id="listLayouts")
def layouts_index(query: dict):
    """Layouts

    The built-in layouts and the marketers' own, in id order, without their HTML.
    """
    layout_service.ensure_builtin_layouts()
    db.session.commit()
    after, limit = page_args(query)
    rows, next_cursor = keyset_page(select(Layout), Layout, Layout.public_id, after, limit)
    usage = layout_service.usage_counts()
    return {
        "data": [layout_json(row, with_html=False, used_by=usage.get(row.id, 0)) for row in rows],
        "next_cursor": next_cursor,
    }


@api_route("/layouts/<public_id>", responses={200: LayoutSchema}, operation_id="getLayout")
def layout_show(public_id: str):
    """One layout, with its HTML"""
    return layout_json(layout_or_404(public_id))


@api_route(
    "/layouts",
    ("POST",),
    body=LayoutCreate,
    responses={201: LayoutSchema},
    errors=REFUSED,
    operation_id="createLayout",
)
def layout_create(body: dict):
    """Create a layout

    The admin's check: refused (422, every problem listed) without each required footer part or when it
    doesn't render in the sandbox.
    """
    try:
        layout = layout_service.save_layout(body["name"], body["html"])
    except layout_service.LayoutError as exc:
        raise _refused(exc) from None
    db.session.commit()
    return layout_json(layout), 201


@api_route(
    "/layouts/<public_id>",
    ("PATCH",),
    body=LayoutWrite,
    responses={200: LayoutSchema},
    errors={**REFUSED, 409: "A built-in layout can't be changed: copy it and change the copy."},
    operation_id="updateLayout",
)
def layout_update(public_id: str, body: dict):
    """Change a layout

    Fields left out stay as they are; the same checks as on creation.
    """
    layout = layout_or_404(public_id)
    if not body:
        raise ApiError(422, "Nothing to change: send at least one field.")
    if layout.builtin:
        raise ApiError(409, "Built-in layouts can't be changed. Make a copy and edit that instead.")
    try:
        layout_service.save_layout(body.get("name", layout.name), body.get("html", layout.html), layout)
    except layout_service.LayoutError as exc:
        raise _refused(exc) from None
    db.session.commit()
    return layout_json(layout)


@api_route(
    "/layouts/<public_id>/copy",
    ("POST",),
    responses={201: LayoutSchema},
    operation_id="copyLayout",
)
def layout_copy(public_id: str):
    """Copy a layout

    An editable copy (“Copy of …”) of any layout, built-in ones included.
    """
    copy = layout_service.copy_layout(layout_or_404(public_id))
    db.session.commit()
    return layout_json(copy), 201


@api_route(
    "/layouts/<public_id>",
    ("DELETE",),
    responses={204: None},
    errors={409: "A built-in layout, or one that campaigns use: it is kept."},
    operation_id="deleteLayout",
)
def layout_delete(public_id: str):
    """Delete a layout no campaign uses"""
    try:
        layout_service.delete_layout(layout_or_404(public_id))
    except layout_service.LayoutError as exc:
        raise _refused(exc, 409) from None
    db.session.commit()
    return None, 204
