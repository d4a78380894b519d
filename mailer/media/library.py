"""Uploading, describing and deleting images of the media library.

An upload is checked by its content, never its name: Pillow must recognise it as JPEG, PNG, GIF or WebP,
within MEDIA_MAX_MB and MEDIA_MAX_DIMENSION pixels a side (a decompression bomb is refused before it is
decoded). It is stored re-encoded, which drops EXIF and other metadata (a phone photo's GPS position, camera
serial) after the orientation is applied, with resized copies (MEDIA_WIDTHS, e.g. 600 and 1200 px wide) for
mail and retina screens. Files are named by the hash of their content, so a URL always shows the same picture
and can be cached for a year. An image a sent (or sending, scheduled…) campaign shows is never deleted:
delivered mail keeps showing it. The files go to the storage of mailer.media.storage: instance/ by default,
or an S3-compatible bucket.
"""

import hashlib
import os
import warnings
from io import BytesIO

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import or_, select

from mailer import audit
from mailer.campaigns.models import Campaign, CampaignStatus
from mailer.core.extensions import db
from mailer.core.text import TextRefused, one_line
from mailer.media.models import MediaItem
from mailer.media.storage import StorageUnavailable, storage

# Pillow's format name -> (extension, MIME type)
FORMATS = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "GIF": ("gif", "image/gif"),
    "WEBP": ("webp", "image/webp"),
}
MIME_TYPES = dict(FORMATS.values())
MAX_ALT = 500
QUALITY = 86


class MediaRefused(ValueError):
    """The image cannot be stored or deleted; the message says why, for the person who tried."""


class MediaUnavailable(MediaRefused):
    """The storage (an S3-compatible bucket) did not answer: nothing wrong with the request, try later."""


def public_url(name: str) -> str:
    """The URL mail and pages load a stored file from (the app's /media/, or the bucket's public URL)."""
    return storage().url(name)


def _open(data: bytes) -> Image.Image:
    """The image in `data`, recognised by content, its size checked before its pixels are decoded."""
    config = current_app.config
    refused = MediaRefused(
        "This file is not an image we accept: upload a JPEG, PNG, GIF or WebP picture (its content counts, "
        "not its name)."
    )
    side = config["MEDIA_MAX_DIMENSION"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            Image.open(BytesIO(data)).verify()
            image = Image.open(BytesIO(data))
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombWarning):
            raise refused from None
        except Image.DecompressionBombError:
            raise MediaRefused(
                f"The image has too many pixels; the largest accepted is {side} a side."
            ) from None
        if image.format not in FORMATS:
            raise refused
        if max(image.size) > side:
            raise MediaRefused(
                f"The image is {image.width}×{image.height} pixels; the largest accepted is {side} pixels "
                "a side. Make it smaller and upload it again."
            )
        try:
            image.load()
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning):
            raise refused from None
    return image


def _encode(image: Image.Image, fmt: str) -> bytes:
    """The image re-encoded in its own format with no metadata but its colour profile."""
    out = BytesIO()
    icc = image.info.get("icc_profile")
    extra = {"icc_profile": icc} if icc else {}
    if fmt == "JPEG":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=QUALITY, optimize=True, progressive=True, **extra)
    elif fmt == "PNG":
        image.save(out, "PNG", optimize=True, **extra)
    elif fmt == "WEBP":
        image.save(out, "WEBP", quality=QUALITY, **extra)
    else:
        image.save(out, "GIF")
    return out.getvalue()


def _clean(image: Image.Image) -> Image.Image:
    """The picture turned upright (EXIF orientation applied), detached from the uploaded file's metadata."""
    upright = ImageOps.exif_transpose(image)
    upright.info = {k: v for k, v in image.info.items() if k in ("icc_profile", "transparency")}
    return upright


def _store(name: str, data: bytes, extension: str) -> None:
    """Keep one file; a storage that does not take it is told to the uploader."""
    try:
        storage().save(name, data, MIME_TYPES[extension])
    except StorageUnavailable as exc:
        raise MediaUnavailable(str(exc)) from None


def clean_alt(text: str | None) -> str:
    """Alt text as stored: one line, at most MAX_ALT characters."""
    try:
        alt = one_line(text, "The alt text")
    except TextRefused as exc:
        raise MediaRefused(str(exc)) from None
    if len(alt) > MAX_ALT:
        raise MediaRefused(f"The alt text is too long ({MAX_ALT} characters at most).")
    return alt


def upload(
    data: bytes,
    original_name: str,
    alt_text: str = "",
    actor=None,
    ip: str | None = None,
    via: dict | None = None,
) -> MediaItem:
    """Check, clean, resize and store an image; the same picture uploaded twice is one item. Audited; the
    caller commits. Raises MediaRefused with a message for the uploader."""
    config = current_app.config
    if not data:
        raise MediaRefused("Choose an image file to upload.")
    if len(data) > config["MEDIA_MAX_MB"] * 1024 * 1024:
        raise MediaRefused(
            f"The image is larger than {config['MEDIA_MAX_MB']} MB. Make it smaller and try again."
        )
    alt = clean_alt(alt_text)
    image = _open(data)
    fmt = image.format or ""
    extension = FORMATS[fmt][0]
    animated = bool(getattr(image, "is_animated", False))
    if animated:  # kept frame by frame (no resized copies); re-encoding still drops comments and metadata
        frames = BytesIO()
        image.info = {k: v for k, v in image.info.items() if k in ("duration", "loop", "transparency")}
        image.save(frames, "GIF", save_all=True)
        stored = frames.getvalue()
        picture = image
    else:
        picture = _clean(image)
        stored = _encode(picture, fmt)
    digest = hashlib.sha256(stored).hexdigest()
    existing = db.session.execute(
        select(MediaItem).where(MediaItem.content_hash == digest)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    widths = [] if animated else [w for w in config["MEDIA_WIDTHS"] if w < picture.width]
    item = MediaItem(
        content_hash=digest,
        extension=extension,
        original_name=one_line(os.path.basename(original_name or ""), "The file name")[:255],
        alt_text=alt,
        width=picture.width,
        height=picture.height,
        size_bytes=len(stored),
        widths=",".join(str(w) for w in widths),
        created_by_id=getattr(actor, "id", None),
    )
    _store(item.file_name, stored, extension)
    for width, name in item.variant_names().items():
        height = max(1, round(picture.height * width / picture.width))
        resized = picture.resize((width, height), Image.Resampling.LANCZOS)
        resized.info = picture.info
        _store(name, _encode(resized, fmt), extension)
    db.session.add(item)
    db.session.flush()
    audit.record(
        "media.upload",
        "media",
        item.public_id,
        {"size": item.size_bytes, "width": item.width, "height": item.height, **(via or {})},
        actor=actor,
        ip=ip,
    )
    return item


def describe(
    item: MediaItem, alt_text: str, actor=None, ip: str | None = None, via: dict | None = None
) -> None:
    """Change an image's alt text (what screen readers and image-blocking mail programs show)."""
    item.alt_text = clean_alt(alt_text)
    audit.record("media.describe", "media", item.public_id, dict(via or {}), actor=actor, ip=ip)


def used_by(item: MediaItem) -> list[str]:
    """Names of the campaigns past draft (sent, sending, scheduled, paused, cancelled) showing this image."""
    key = item.content_hash[:32]
    query = (
        select(Campaign.name)
        .where(
            Campaign.status != CampaignStatus.DRAFT,
            or_(Campaign.body.contains(key), Campaign.compiled_html.contains(key)),
        )
        .order_by(Campaign.id)
    )
    return list(db.session.execute(query).scalars())


def delete(item: MediaItem, actor=None, ip: str | None = None, via: dict | None = None) -> None:
    """Remove an image and its files, unless a campaign that has gone out shows it. Audited; the caller
    commits."""
    campaigns = used_by(item)
    if campaigns:
        names = ", ".join(f"“{name}”" for name in campaigns[:5]) + (" …" if len(campaigns) > 5 else "")
        raise MediaRefused(
            f"Not deleted: the campaign{'s' if len(campaigns) > 1 else ''} {names} "
            f"{'show' if len(campaigns) > 1 else 'shows'} this image. Images of campaigns that have gone out "
            "are kept, so mail already delivered still shows them."
        )
    try:
        storage().delete([item.file_name, *item.variant_names().values()])
    except StorageUnavailable as exc:
        raise MediaUnavailable(str(exc)) from None
    audit.record("media.delete", "media", item.public_id, dict(via or {}), actor=actor, ip=ip)
    db.session.delete(item)


def urls(item: MediaItem) -> dict:
    """The URLs to put in mail: the mail-width copy (the smallest resized one when made, else the original),
    the original, and every size by width."""
    variants = item.variant_names()
    sizes = {width: public_url(name) for width, name in variants.items()}
    original = public_url(item.file_name)
    mail = sizes.get(min(variants)) if variants else original
    return {"mail": mail, "original": original, "sizes": sizes}


def library() -> list[MediaItem]:
    """Every image, newest first."""
    return list(db.session.execute(select(MediaItem).order_by(MediaItem.id.desc())).scalars())
