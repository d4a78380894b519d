"""The media library's rules: content decides the type, metadata is stripped, copies are resized, names are
content hashes, and images of campaigns that have gone out are never deleted."""

import os
from io import BytesIO

import pytest
from PIL import Image
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.campaigns.models import CampaignStatus
from mailer.core.extensions import db
from mailer.media import library
from mailer.media.models import MediaItem
from tests.support.campaigns import newsletter
from tests.support.media import EXIF_GPS, EXIF_MAKE, photo


def test_a_phone_photo_is_stored_without_its_exif_with_resized_copies(app_ctx, media_dir):
    item = library.upload(photo(), "holiday.jpg", "Blue and yellow stripes")
    db.session.commit()
    assert (item.width, item.height, item.extension, item.widths) == (1600, 900, "jpg", "600,1200")
    assert item.file_name == f"{item.content_hash[:32]}.jpg"
    stored = Image.open(media_dir / item.file_name)
    assert stored.format == "JPEG" and stored.size == (1600, 900)
    exif = stored.getexif()
    assert EXIF_MAKE not in exif and not exif.get_ifd(EXIF_GPS)
    for width, name in item.variant_names().items():
        copy = Image.open(media_dir / name)
        assert copy.size == (width, round(900 * width / 1600)) and not copy.getexif()
    # The same picture again is the same item; its name is its content's hash.
    assert library.upload(photo(), "again.jpg").id == item.id
    assert db.session.execute(select(AuditEvent.action)).scalars().all() == ["media.upload"]


def test_a_small_png_gets_no_copies_wider_than_itself(app_ctx, media_dir):
    item = library.upload(photo(400, 300, "PNG", with_exif=False), "logo.png")
    assert (item.extension, item.widths, item.variant_names()) == ("png", "", {})
    assert os.listdir(media_dir) == [item.file_name]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"<svg onload='alert(1)'></svg>", "logo.png", "not an image we accept"),
        (b"%PDF-1.4 a document", "photo.jpg", "not an image we accept"),
        (photo(fmt="BMP", with_exif=False), "photo.bmp", "not an image we accept"),
        (photo(6001, 10, with_exif=False), "wide.jpg", "6001×10 pixels; the largest accepted is 6000"),
        (b"", "empty.jpg", "Choose an image file"),
    ],
)
def test_refused_by_content_not_by_name(app_ctx, media_dir, data, name, message):
    with pytest.raises(library.MediaRefused, match=message):
        library.upload(data, name)
    assert not media_dir.exists() or not os.listdir(media_dir)


@pytest.mark.config(MEDIA_MAX_MB=1)
def test_larger_than_the_limit_is_refused(app_ctx, media_dir):
    noisy = Image.frombytes("RGB", (1200, 1200), os.urandom(1200 * 1200 * 3))
    out = BytesIO()
    noisy.save(out, "PNG")
    with pytest.raises(library.MediaRefused, match="larger than 1 MB"):
        library.upload(out.getvalue(), "noise.png")


def test_an_image_of_a_sent_campaign_is_never_deleted(app_ctx, media_dir):
    item = library.upload(photo(), "hero.jpg")
    campaign, _ = newsletter(1)
    campaign.body = f"![Hero](http://localhost/media/{item.variant_names()[600]})"
    db.session.commit()
    library.delete(library.upload(photo(800, 600), "spare.jpg"))  # used by nothing: gone
    campaign.status = CampaignStatus.SENT
    db.session.commit()
    with pytest.raises(library.MediaRefused, match=f"the campaign “{campaign.name}” shows this image"):
        library.delete(item)
    db.session.rollback()
    assert db.session.execute(select(MediaItem.id)).scalars().all() == [item.id]
    assert (media_dir / item.file_name).exists()
