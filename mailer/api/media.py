"""The media library through the API: list, upload (multipart), get, describe (alt text) and delete images.

The rules are mailer.media.library's, which the admin's page calls too: an upload is checked by its content
(JPEG, PNG, GIF or WebP recognised by Pillow, within MEDIA_MAX_MB and MEDIA_MAX_DIMENSION), stored re-encoded
without metadata, with resized copies for mail; the same picture uploaded twice is one image; an image that a
campaign past draft shows is never deleted.
"""

from flask import g, request
from marshmallow import Schema, fields
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from mailer.api.errors import ApiError
from mailer.api.fields import RequestSchema, Text, page_of, public_id, timestamp
from mailer.api.inputs import PageQuery, invalid, paged
from mailer.api.routing import Upload, api_route
from mailer.api.serializers import iso
from mailer.core.extensions import db
from mailer.media import library
from mailer.media.models import MediaItem

ALT_HELP = "What the image shows, for screen readers and mail programs that block images (one line)."


class MediaUpload(RequestSchema):
    """The image as the `file` part (JPEG, PNG, GIF or WebP, at most MEDIA_MAX_MB), and its alt text."""

    file = fields.Raw(
        load_only=True,
        metadata={"type": "string", "format": "binary", "description": "The image file."},
    )
    alt_text = Text(max_length=library.MAX_ALT, metadata={"description": ALT_HELP})


class MediaPatch(RequestSchema):
    alt_text = Text(required=True, max_length=library.MAX_ALT, metadata={"description": ALT_HELP})


class MediaUrlsSchema(Schema):
    mail = fields.String(
        metadata={"description": "The copy to put in mail (600 px wide when it was larger)."}
    )
    original = fields.String()
    sizes = fields.Dict(keys=fields.String(), values=fields.String(), metadata={"description": "By width."})


class MediaSchema(Schema):
    id = public_id()
    original_name = fields.String()
    alt_text = fields.String()
    width = fields.Integer()
    height = fields.Integer()
    size_bytes = fields.Integer()
    urls = fields.Nested(MediaUrlsSchema)
    created_at = timestamp()
    used_by = fields.List(
        fields.String(),
        metadata={
            "description": "Only on GET /media/{public_id}: names of the campaigns past draft that show it "
            "(it cannot be deleted while there are any)."
        },
    )


MediaPageSchema = page_of(MediaSchema, "MediaPage")
UPLOAD = Upload("file", MediaUpload, "MEDIA_MAX_MB")


def media_json(item: MediaItem, used_by: list[str] | None = None) -> dict:
    urls = library.urls(item)
    data: dict = {
        "id": item.public_id,
        "original_name": item.original_name,
        "alt_text": item.alt_text,
        "width": item.width,
        "height": item.height,
        "size_bytes": item.size_bytes,
        "urls": {**urls, "sizes": {str(width): url for width, url in urls["sizes"].items()}},
        "created_at": iso(item.created_at),
    }
    if used_by is not None:
        data["used_by"] = used_by
    return data


def _item(public_id: str) -> MediaItem:
    item = db.session.execute(
        select(MediaItem).where(MediaItem.public_id == public_id[:32])
    ).scalar_one_or_none()
    if item is None:
        raise ApiError(404, "There is no image with this id.", {"media_id": public_id[:64]})
    return item


def _via() -> dict:
    return {"via": "api", "api_key": g.api_key_prefix}


@api_route("/media", query=PageQuery, responses={200: MediaPageSchema}, operation_id="listMedia")
def media_index(query: dict):
    """Images of the media library

    Oldest first, one page at a time, each with the URLs to put in mail.
    """
    return paged(query, select(MediaItem), MediaItem, MediaItem.public_id, media_json)


@api_route(
    "/media",
    ("POST",),
    upload=UPLOAD,
    responses={201: MediaSchema},
    errors={
        413: "The body is larger than MEDIA_MAX_MB (5 MB by default).",
        503: "The media storage (an S3-compatible bucket) did not answer; try again later.",
    },
    operation_id="uploadMedia",
)
def media_upload(form: dict, file: FileStorage | None):
    """Upload an image

    `multipart/form-data` with the image as the `file` part and an optional `alt_text`. Checked by its
    content, never its name (JPEG, PNG, GIF or WebP, within MEDIA_MAX_MB and MEDIA_MAX_DIMENSION pixels a
    side); stored re-encoded without metadata (e.g. a photo's GPS position), with resized copies for mail.
    The same picture uploaded again answers the image already there. Refusals are a 422 naming `file` or
    `alt_text`; audited.
    """
    data = file.read() if file is not None else b""
    try:
        item = library.upload(
            data,
            (file.filename if file is not None else "") or "",
            form.get("alt_text", ""),
            ip=request.remote_addr,
            via=_via(),
        )
    except library.MediaUnavailable as exc:
        db.session.rollback()
        raise ApiError(503, str(exc), headers={"Retry-After": "60"}) from None
    except library.MediaRefused as exc:
        db.session.rollback()
        raise invalid("alt_text" if "alt text" in str(exc) else "file", str(exc)) from None
    db.session.commit()
    return media_json(item), 201


@api_route("/media/<public_id>", responses={200: MediaSchema}, operation_id="getMedia")
def media_show(public_id: str):
    """One image, with the campaigns that show it"""
    item = _item(public_id)
    return media_json(item, library.used_by(item))


@api_route(
    "/media/<public_id>",
    ("PATCH",),
    body=MediaPatch,
    responses={200: MediaSchema},
    operation_id="updateMedia",
)
def media_update(public_id: str, body: dict):
    """Change an image's alt text

    Audited.
    """
    item = _item(public_id)
    try:
        library.describe(item, body["alt_text"], ip=request.remote_addr, via=_via())
    except library.MediaRefused as exc:
        db.session.rollback()
        raise invalid("alt_text", str(exc)) from None
    db.session.commit()
    return media_json(item)


@api_route(
    "/media/<public_id>",
    ("DELETE",),
    responses={204: None},
    errors={
        409: "A campaign that has gone out (or is scheduled, sending…) shows this image: it is kept.",
        503: "The media storage (an S3-compatible bucket) did not answer; try again later.",
    },
    operation_id="deleteMedia",
)
def media_delete(public_id: str):
    """Delete an image and its files

    Refused with 409, naming the campaigns, while a campaign past draft shows it (delivered mail keeps
    showing its images). Audited.
    """
    item = _item(public_id)
    campaigns = library.used_by(item)
    try:
        library.delete(item, ip=request.remote_addr, via=_via())
    except library.MediaUnavailable as exc:
        db.session.rollback()
        raise ApiError(503, str(exc), headers={"Retry-After": "60"}) from None
    except library.MediaRefused as exc:
        db.session.rollback()
        raise ApiError(409, str(exc), {"used_by": campaigns}) from None
    db.session.commit()
    return None, 204
