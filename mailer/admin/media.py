"""The media library: upload images, describe them, copy their URLs into a campaign, delete unused ones."""

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from wtforms import StringField

from mailer.admin.blueprint import bp
from mailer.core.extensions import db
from mailer.core.sentences import shown
from mailer.core.web import accepts_upload
from mailer.media import library
from mailer.media.models import MediaItem
from mailer.media.storage import in_bucket


class UploadForm(FlaskForm):
    image = FileField(lazy_gettext("Image (JPEG, PNG, GIF or WebP)"))
    alt_text = StringField(
        lazy_gettext("Alt text: what the image shows, for screen readers and blocked images")
    )


class AltForm(FlaskForm):
    alt_text = StringField(lazy_gettext("Alt text"))


def _item(public_id: str) -> MediaItem:
    return db.one_or_404(select(MediaItem).where(MediaItem.public_id == public_id))


def _urls(item: MediaItem) -> dict:
    """The URLs staff copy (library.urls), and the page's own thumbnail: a same-origin path for local files
    (whatever host the admin is browsed on)."""
    urls = library.urls(item)
    variants = item.variant_names()
    name = variants[min(variants)] if variants else item.file_name
    thumb = urls["mail"] if in_bucket() else url_for("public.media_file", name=name)
    return {**urls, "thumb": thumb}


def _status(refusal: "library.MediaRefused", refused: int = 400) -> int:
    """A refused upload is the uploader's to fix (400); a storage that did not answer is ours (503)."""
    return 503 if isinstance(refusal, library.MediaUnavailable) else refused


def _upload(form: UploadForm) -> MediaItem:
    """Store the form's image (raises library.MediaRefused with the reason); the caller commits."""
    upload = form.image.data
    return library.upload(
        upload.read() if upload else b"",
        getattr(upload, "filename", "") or "",
        form.alt_text.data or "",
        actor=current_user,
        ip=request.remote_addr,
    )


def _page(upload_form: UploadForm, status: int = 200, problem: str = "", problem_for: str = ""):
    items = library.library()
    return render_template(
        "admin/media/index.html",
        items=items,
        urls={item.public_id: _urls(item) for item in items},
        upload_form=upload_form,
        alt_form=AltForm(),
        problem=problem,
        problem_for=problem_for,
    ), status


@bp.route("/media", methods=["GET", "POST"])
@accepts_upload("MEDIA_MAX_MB", "image")
def media_library():
    """The images, newest first, and the upload form."""
    form = UploadForm()
    if request.method == "GET":
        return _page(form)
    if not form.validate_on_submit():
        return _page(form, 400, "The form expired; please choose the image again.", "upload")
    try:
        item = _upload(form)
    except library.MediaRefused as exc:
        db.session.rollback()
        return _page(form, _status(exc), shown(exc), "upload")
    db.session.commit()
    flash(
        gettext(
            "Image uploaded (%(width)s×%(height)s px). Copy its URL into a campaign.",
            width=item.width,
            height=item.height,
        ),
        "success",
    )
    return redirect(url_for("admin.media_library", _anchor=f"media-{item.public_id}"))


def _asset(item: MediaItem) -> dict:
    """One image as the visual editor's asset manager lists it (the mail-width URL, its size and alt text)."""
    return {
        "type": "image",
        "src": library.urls(item)["mail"],
        "name": item.alt_text or item.original_name,
        "alt": item.alt_text,
        "width": item.width,
        "height": item.height,
    }


@bp.get("/media.json")
def media_assets():
    """The library's images for the visual editor's image picker, newest first."""
    return jsonify(data=[_asset(item) for item in library.library()])


@bp.post("/media/upload.json")
@accepts_upload("MEDIA_MAX_MB", "image")
def media_upload_json():
    """Upload one image from the visual editor (CSRF token in the form); answers the new asset, or 400 why."""
    form = UploadForm()
    if not form.validate_on_submit():
        return jsonify(error=gettext("The page expired; reload it and choose the image again.")), 400
    try:
        item = _upload(form)
    except library.MediaRefused as exc:
        db.session.rollback()
        return jsonify(error=shown(exc)), _status(exc)
    db.session.commit()
    return jsonify(data=[_asset(item)])


@bp.post("/media/<public_id>/alt")
def media_alt(public_id: str):
    """Change an image's alt text."""
    item = _item(public_id)
    form = AltForm()
    if not form.validate_on_submit():
        return _page(UploadForm(), 400, "The form expired; please try again.", item.public_id)
    try:
        library.describe(item, form.alt_text.data or "", actor=current_user, ip=request.remote_addr)
    except library.MediaRefused as exc:
        db.session.rollback()
        return _page(UploadForm(), 400, shown(exc), item.public_id)
    db.session.commit()
    flash(gettext("Alt text saved."), "success")
    return redirect(url_for("admin.media_library", _anchor=f"media-{item.public_id}"))


@bp.post("/media/<public_id>/delete")
def media_delete(public_id: str):
    """Delete an image no campaign that has gone out shows (else refused, saying which campaigns)."""
    item = _item(public_id)
    if not AltForm().validate_on_submit():
        return _page(UploadForm(), 400, "The form expired; please try again.", item.public_id)
    try:
        library.delete(item, actor=current_user, ip=request.remote_addr)
    except library.MediaRefused as exc:
        db.session.rollback()
        return _page(UploadForm(), _status(exc, 409), shown(exc), item.public_id)
    db.session.commit()
    flash(gettext("Image deleted."), "success")
    return redirect(url_for("admin.media_library"))
