"""Tags on the contact page: added and removed by editors (audited), shown in the contact list."""

import io
import json
import zipfile

from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.contacts.models.tags import ContactTag, Tag
from mailer.core.extensions import db
from mailer.privacy import export
from mailer.subscriptions.lists import create_list
from tests.support.campaigns import subscriber
from tests.support.http import csrf_token, staff_client


def test_an_editor_tags_and_untags_a_contact_and_each_change_is_audited(app, app_ctx, auth):
    person = subscriber(create_list("News"), "ann@example.com", "Ann")
    db.session.commit()
    url = f"/admin/contacts/{person.public_id}"
    page = auth.get(url)
    assert "No tags." in page.text
    token = csrf_token(page.text)
    answer = auth.post(f"{url}/tags", data={"csrf_token": token, "tag": "  VIP  "}, follow_redirects=True)
    assert "Tagged “VIP”." in answer.text
    auth.post(f"{url}/tags", data={"csrf_token": token, "tag": "vip"})  # the same tag in other letters
    assert db.session.execute(select(Tag.name)).scalars().all() == ["VIP"]
    listing = auth.get("/admin/contacts")
    assert '<span class="badge text-bg-info me-1">VIP</span>' in listing.text
    tag = db.session.execute(select(Tag)).scalar_one()
    answer = auth.post(f"{url}/tags/{tag.id}/remove", data={"csrf_token": token}, follow_redirects=True)
    assert "Removed the tag “VIP”." in answer.text
    assert db.session.execute(select(ContactTag)).first() is None
    actions = db.session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars().all()
    assert [a for a in actions if a.startswith("contact.")] == ["contact.tag", "contact.untag"]


def test_bad_tags_are_refused_with_a_reason(app, app_ctx, auth):
    person = subscriber(create_list("News"), "ann@example.com")
    db.session.commit()
    url = f"/admin/contacts/{person.public_id}"
    token = csrf_token(auth.get(url).text)
    assert auth.post(f"{url}/tags", data={"csrf_token": token, "tag": "x" * 61}).status_code == 400
    answer = auth.post(f"{url}/tags", data={"csrf_token": token, "tag": "bad\x07tag"}, follow_redirects=True)
    assert answer.status_code in (200, 400)
    assert db.session.execute(select(Tag)).first() is None
    assert auth.post(f"{url}/tags", data={"tag": "vip"}).status_code == 400  # no CSRF token
    assert auth.post(f"{url}/tags/999999/remove", data={"csrf_token": token}).status_code == 404


def test_viewers_see_tags_but_cannot_tag(app):
    with app.app_context():
        person = subscriber(create_list("News"), "ann@example.com")
        db.session.commit()
        url = f"/admin/contacts/{person.public_id}"
    viewer = staff_client(app, "viewer")
    page = viewer.get(url)
    assert "Add tag" not in page.text
    refused = viewer.post(f"{url}/tags", data={"csrf_token": csrf_token(page.text), "tag": "vip"})
    assert refused.status_code == 403


def test_the_persons_own_data_export_names_their_tags(app, app_ctx, auth):
    person = subscriber(create_list("News"), "ann@example.com")
    db.session.commit()
    url = f"/admin/contacts/{person.public_id}"
    auth.post(f"{url}/tags", data={"csrf_token": csrf_token(auth.get(url).text), "tag": "Trade fair 2026"})
    archive = zipfile.ZipFile(io.BytesIO(export.build_zip(person, clear_sensitive=True)))
    data = json.loads(archive.read("data.json"))
    assert data["tags"] == [{"tag": "Trade fair 2026"}]
    assert not [row for row in data["other_records"] if row["table"] == "contact_tags"]
