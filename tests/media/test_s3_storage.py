"""Media in an S3-compatible bucket: an upload through the admin page becomes objects with their type and a
year's immutable caching, mail links to the bucket's public URL and that URL serves the picture, deletion is
refused while a campaign that has gone out shows it, and the settings are read from the environment."""

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from io import BytesIO

import pytest
from botocore.exceptions import ClientError
from PIL import Image
from sqlalchemy import select

from mailer.campaigns import lifecycle
from mailer.campaigns.models import Campaign, CampaignStatus
from mailer.core.extensions import db
from mailer.media import library
from mailer.media.models import MediaItem
from mailer.organisation import brand
from tests.admin.test_campaign_pages import form_token
from tests.admin.test_media_pages import _upload
from tests.support.campaigns import campaign_status, newsletter
from tests.support.media import photo
from tests.support.s3 import CREDENTIALS
from tests.support.signup import page

YEAR_IMMUTABLE = "public, max-age=31536000, immutable"


def _fetch(url: str):
    """GET a URL over real HTTP, as a recipient's mail program would (no credentials)."""
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status, answer.headers, answer.read()  # headers: case-insensitive


def test_upload_send_serve_and_keep_an_image_in_the_bucket(auth, s3_media, smtp_server, worker):
    uploaded = _upload(auth, photo(), "team.jpg", "Our team at the market")
    assert uploaded.status_code == 302, page(uploaded)
    [item] = db.session.execute(select(MediaItem)).scalars()
    names = [item.file_name, *item.variant_names().values()]
    assert s3_media.keys() == sorted(names)
    for name in names:
        stored = s3_media.object(name)
        assert stored["ContentType"] == "image/jpeg" and stored["CacheControl"] == YEAR_IMMUTABLE
    assert not os.path.exists(auth.application.config["MEDIA_DIR"])  # nothing kept on local disk

    # The page offers the bucket's URL, and its CSP lets the thumbnails load from there.
    library_page = auth.get("/admin/media")
    bucket_url = f"{s3_media.endpoint}/{s3_media.name}/"
    url = re.search(r'value="([^"]+-w600\.jpg)" readonly data-media-url', page(library_page)).group(1)
    assert url == bucket_url + item.variant_names()[600]
    assert f"img-src 'self' data: {s3_media.endpoint};" in library_page.headers["Content-Security-Policy"]
    assert f'src="{url}"' in page(library_page)

    campaign, _ = newsletter(1, from_email="news@example.com", body=f"![Our team]({url})\n\nHello!")
    lifecycle.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    assert campaign_status(campaign) == "sent"
    html = smtp_server.to("person0@example.net")[0].message.get_body(("html",)).get_content()
    assert f'src="{url}"' in html and 'alt="Our team"' in html

    status, headers, body = _fetch(url)  # what the recipient's mail program loads
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert headers["Cache-Control"] == YEAR_IMMUTABLE
    assert Image.open(BytesIO(body)).size == (600, round(900 * 600 / 1600))
    # Links to the app's own /media/ (mail sent before the move to the bucket) lead there for good.
    moved = auth.get(f"/media/{item.variant_names()[600]}")
    assert moved.status_code == 301 and moved.headers["Location"] == url

    delete = f"/admin/media/{item.public_id}/delete"
    kept = auth.post(delete, data={"csrf_token": form_token(auth, "/admin/media")})
    assert kept.status_code == 409
    assert f"Not deleted: the campaign “{campaign.name}” shows this image." in page(kept)
    assert s3_media.keys() == sorted(names) and _fetch(url)[0] == 200

    db.session.execute(db.update(Campaign).values(status=CampaignStatus.DRAFT))
    db.session.commit()
    assert auth.post(delete, data={"csrf_token": form_token(auth, "/admin/media")}).status_code == 302
    assert s3_media.keys() == []
    with pytest.raises(urllib.error.HTTPError) as gone:
        _fetch(url)
    assert gone.value.code == 404


def test_a_storage_that_refuses_is_told_beside_the_form(auth, s3_media):
    s3_media.client.delete_bucket(Bucket=s3_media.name)  # type: ignore[attr-defined]
    refused = _upload(auth, photo(), "team.jpg")
    assert refused.status_code == 503
    assert "data-media-problem>The image could not be stored: the media storage did not accept it" in page(
        refused
    )
    assert db.session.execute(select(MediaItem)).first() is None
    with pytest.raises(ClientError):
        s3_media.client.head_bucket(Bucket=s3_media.name)  # type: ignore[attr-defined]


def test_the_bucket_settings_come_from_the_environment(s3_bucket, tmp_path):
    """A process started with the README's variables stores its uploads in the bucket and links there."""
    script = (
        "import json, sys\n"
        "from mailer import create_app\n"
        "from mailer.media import library\n"
        "from mailer.media.storage import storage\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    storage().save('0123456789abcdef0123456789abcdef.png', sys.stdin.buffer.read(), 'image/png')\n"
        "    print(json.dumps({'url': library.public_url('0123456789abcdef0123456789abcdef.png'),\n"
        "                      'origin': app.config['MEDIA_IMAGE_ORIGIN']}))\n"
    )
    environment = {
        **os.environ,
        **CREDENTIALS,
        "MAILER_ENV": "testing",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'env.db'}",
        "MAILER_MEDIA_S3_BUCKET": s3_bucket.name,
        "MAILER_MEDIA_S3_ENDPOINT_URL": s3_bucket.endpoint,
        "MAILER_MEDIA_S3_REGION": CREDENTIALS["AWS_DEFAULT_REGION"],
        "MAILER_MEDIA_S3_PUBLIC_URL": f"{s3_bucket.endpoint}/{s3_bucket.name}/",
        "MAILER_MEDIA_S3_PREFIX": "newsletter-images",
    }
    picture = photo(40, 30, "PNG", with_exif=False)
    done = subprocess.run(
        [sys.executable, "-c", script], input=picture, env=environment, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    answer = json.loads(done.stdout.decode().strip().splitlines()[-1])
    key = "newsletter-images/0123456789abcdef0123456789abcdef.png"
    assert answer == {"url": f"{s3_bucket.endpoint}/{s3_bucket.name}/{key}", "origin": s3_bucket.endpoint}
    assert s3_bucket.keys() == [key]
    assert s3_bucket.object(key)["CacheControl"] == YEAR_IMMUTABLE
    status, headers, body = _fetch(answer["url"])
    assert status == 200 and headers["Content-Type"] == "image/png" and body == picture


def test_a_public_url_that_is_not_a_url_stops_the_app(s3_bucket, tmp_path):
    environment = {
        **os.environ,
        "MAILER_ENV": "testing",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'env.db'}",
        "MAILER_MEDIA_S3_BUCKET": s3_bucket.name,
        "MAILER_MEDIA_S3_PUBLIC_URL": "media.example.com",
    }
    done = subprocess.run(
        [sys.executable, "-c", "from mailer import create_app; create_app()"],
        env=environment,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "MAILER_MEDIA_S3_PUBLIC_URL must be an http(s) URL" in done.stderr.decode()


def test_a_logo_in_the_bucket_is_the_brand_logo_and_loads_on_public_pages(app, client, s3_media):
    with app.app_context():
        item = library.upload(photo(400, 120, "PNG", with_exif=False), "logo.png", "Mailer Demo")
        logo = library.public_url(item.file_name)
        with pytest.raises(brand.BrandRefused):
            brand.save(brand.BrandInput(logo_url="https://elsewhere.example/logo.png"))
        brand.save(brand.BrandInput(logo_url=logo))
        db.session.commit()
    preferences = client.get("/p")
    assert f'src="{logo}"' in page(preferences)
    assert f"img-src 'self' data: {s3_media.endpoint};" in preferences.headers["Content-Security-Policy"]
    assert _fetch(logo)[0] == 200
