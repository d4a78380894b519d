"""The media library through the API: a multipart upload checked by content (the admin's library rules: GPS
dropped, resized copies, the same picture once), list, get, alt text, delete refused while a sent campaign
shows the image; 422 naming the part, 413 over MEDIA_MAX_MB, read-only keys only read; audited."""

from io import BytesIO
from urllib.parse import urlsplit

import pytest
from PIL import Image
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.campaigns.models import Campaign
from mailer.core.extensions import db
from mailer.media.models import MediaItem
from tests.support.media import EXIF_GPS, photo


def _upload(api, data: bytes, name: str = "beach.jpg", **form):
    return api.post(
        "/media", data={"file": (BytesIO(data), name), **form}, content_type="multipart/form-data"
    )


def test_upload_list_describe_and_delete_an_image(api, client, write_key, app_ctx, media_dir):
    made = _upload(api, photo(), alt_text="Our shop at dawn")
    assert made.status_code == 201, made.get_json()
    image = made.get_json()
    assert (image["width"], image["height"], image["alt_text"]) == (1600, 900, "Our shop at dawn")
    assert image["original_name"] == "beach.jpg" and set(image["urls"]["sizes"]) == {"600", "1200"}
    assert image["urls"]["mail"] == image["urls"]["sizes"]["600"]
    served = client.get(urlsplit(image["urls"]["original"]).path)
    assert served.status_code == 200
    assert not Image.open(BytesIO(served.data)).getexif().get_ifd(EXIF_GPS)  # the position is gone
    assert Image.open(BytesIO(client.get(urlsplit(image["urls"]["mail"]).path).data)).width == 600

    again = _upload(api, photo(), name="copy.jpg")
    assert again.status_code == 201 and again.get_json()["id"] == image["id"]  # the same picture, once
    assert api.get("/media").get_json() == {"data": [image], "next_cursor": None}
    assert api.get(f"/media/{image['id']}").get_json() == {**image, "used_by": []}

    described = api.patch(f"/media/{image['id']}", json={"alt_text": "The shop"})
    assert described.status_code == 200 and described.get_json()["alt_text"] == "The shop"

    sent = Campaign(
        name="Dawn sale", subject="Sale", status="sent", body=f'<img src="{image["urls"]["mail"]}">'
    )
    db.session.add(sent)
    db.session.commit()
    assert api.get(f"/media/{image['id']}").get_json()["used_by"] == ["Dawn sale"]
    kept = api.delete(f"/media/{image['id']}")
    assert kept.status_code == 409 and kept.get_json()["detail"] == {"used_by": ["Dawn sale"]}
    assert "“Dawn sale”" in kept.get_json()["error"]
    sent.status = "draft"
    db.session.commit()
    assert api.delete(f"/media/{image['id']}").status_code == 204
    assert api.get(f"/media/{image['id']}").status_code == 404
    assert client.get(urlsplit(image["urls"]["original"]).path).status_code == 404
    assert db.session.execute(select(MediaItem)).first() is None

    rows = db.session.execute(
        select(AuditEvent).where(AuditEvent.action.like("media.%")).order_by(AuditEvent.id)
    ).scalars()
    audited = [(row.action, row.details.get("via"), row.details.get("api_key")) for row in rows]
    prefix = write_key[3:11]
    assert audited == [
        ("media.upload", "api", prefix),
        ("media.describe", "api", prefix),
        ("media.delete", "api", prefix),
    ]


@pytest.mark.config(MEDIA_MAX_MB=1)
def test_bad_uploads_are_refused_naming_the_part(api, read_api, app_ctx, media_dir):
    not_an_image = _upload(api, b"%PDF-1.4 not a picture", name="cat.jpg")
    assert not_an_image.status_code == 422 and list(not_an_image.get_json()["detail"]) == ["file"]
    missing = api.post("/media", data={"alt_text": "x"}, content_type="multipart/form-data")
    assert missing.status_code == 422 and "Choose an image file" in missing.get_json()["detail"]["file"]
    long_alt = _upload(api, photo(), alt_text="x" * 501)
    assert long_alt.status_code == 422 and list(long_alt.get_json()["detail"]) == ["alt_text"]
    control = _upload(api, photo(), alt_text="a\x1bb")
    assert control.status_code == 422 and list(control.get_json()["detail"]) == ["alt_text"]
    unknown = _upload(api, photo(), caption="x")
    assert unknown.status_code == 422 and unknown.get_json()["detail"] == {"caption": "unknown field"}
    as_json = api.post("/media", json={"file": "aGVsbG8="})
    assert as_json.status_code == 415 and "multipart/form-data" in as_json.get_json()["error"]
    too_big = _upload(api, b"\xff" * (2 * 1024 * 1024))
    assert too_big.status_code == 413
    assert db.session.execute(select(MediaItem)).first() is None

    assert read_api.get("/media").status_code == 200
    assert _upload(read_api, photo()).status_code == 403
    item = _upload(api, photo(width=300, height=200)).get_json()
    assert item["urls"]["sizes"] == {} and item["urls"]["mail"] == item["urls"]["original"]
    assert read_api.patch(f"/media/{item['id']}", json={"alt_text": "x"}).status_code == 403
    assert read_api.delete(f"/media/{item['id']}").status_code == 403
    assert api.patch(f"/media/{item['id']}", json={}).get_json()["detail"] == {
        "alt_text": "this field is required"
    }
    for missing_id in ("nope", "x" * 300):
        assert api.get(f"/media/{missing_id}").status_code == 404
        assert api.delete(f"/media/{missing_id}").status_code == 404
