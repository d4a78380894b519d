"""The media library's pages: upload with the reason beside the form when refused, the URL to copy, the public
file with a year's immutable caching, and a delete refused while a sent campaign shows the image."""

import re
from io import BytesIO

import pytest
from sqlalchemy import select

from mailer.campaigns.models import Campaign, CampaignStatus
from mailer.core.extensions import db
from mailer.media.models import MediaItem
from mailer.staff.accounts import create_staff
from tests.admin.test_campaign_pages import draft, form_token
from tests.support.http import login
from tests.support.media import photo
from tests.support.signup import page


def _upload(client, data: bytes, name: str, alt: str = ""):
    return client.post(
        "/admin/media",
        data={
            "csrf_token": form_token(client, "/admin/media"),
            "image": (BytesIO(data), name),
            "alt_text": alt,
        },
        content_type="multipart/form-data",
    )


def test_upload_copy_serve_and_delete_unless_sent(auth, demo_form, media_dir):
    refused = _upload(auth, b"GIF89a but not really", "logo.gif")
    assert refused.status_code == 400
    assert "data-media-problem>This file is not an image we accept" in page(refused)

    uploaded = _upload(auth, photo(), "team.jpg", "Our team at the market")
    assert uploaded.status_code == 302
    library_page = page(auth.get("/admin/media"))
    assert "Image uploaded (1600×900 px)" in library_page and 'alt="Our team at the market"' in library_page
    url = re.search(r'value="(http://[^"]+-w600\.jpg)" readonly data-media-url', library_page).group(1)
    assert f"![Our team at the market]({url})" in library_page

    served = auth.get(url.removeprefix("http://localhost"))
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert auth.get("/media/../config.py").status_code == 404
    assert auth.get("/media/" + "0" * 32 + ".jpg").status_code == 404

    campaign = draft(auth, body=f"![Our team]({url})")
    [item] = db.session.execute(select(MediaItem)).scalars()
    db.session.execute(db.update(Campaign).values(status=CampaignStatus.SENT))
    db.session.commit()
    delete = f"/admin/media/{item.public_id}/delete"
    kept = auth.post(delete, data={"csrf_token": form_token(auth, "/admin/media")})
    assert kept.status_code == 409
    assert f"Not deleted: the campaign “{campaign.name}” shows this image." in page(kept)
    assert auth.get(url.removeprefix("http://localhost")).status_code == 200

    db.session.execute(db.update(Campaign).values(status=CampaignStatus.DRAFT))
    db.session.commit()
    assert auth.post(delete, data={"csrf_token": form_token(auth, "/admin/media")}).status_code == 302
    assert auth.get(url.removeprefix("http://localhost")).status_code == 404


@pytest.mark.config(MEDIA_MAX_MB=1)
def test_an_upload_over_the_limit_is_told_not_crashed(auth, media_dir):
    response = _upload(auth, b"\xff\xd8" + b"0" * (2 * 1024 * 1024), "huge.jpg")
    assert response.status_code == 413 and "larger than 1 MB" in page(response)


def test_alt_text_is_saved_and_viewers_cannot_upload(auth, client, media_dir):
    _upload(auth, photo(), "team.jpg")
    [item] = db.session.execute(select(MediaItem)).scalars()
    saved = auth.post(
        f"/admin/media/{item.public_id}/alt",
        data={"csrf_token": form_token(auth, "/admin/media"), "alt_text": "Three people smiling"},
    )
    assert saved.status_code == 302
    db.session.expire_all()
    assert item.alt_text == "Three people smiling"
    auth.post("/admin/logout", data={"csrf_token": form_token(auth, "/admin/")})
    create_staff("privacy@example.com", "correct horse battery", "privacy")
    db.session.commit()
    login(client, "privacy@example.com", "correct horse battery")
    assert client.get("/admin/media").status_code == 403
