"""Creating a list and a sign-up form through the admin, and using the form right away."""

import pytest
from sqlalchemy import func, select

from mailer.consent.models import Purpose
from mailer.core.extensions import db
from mailer.subscriptions.models.forms import Form
from mailer.subscriptions.models.lists import MailingList
from tests.support.html_forms import forms_on, submit_form
from tests.support.http import consent_values
from tests.support.signup import page, sign_up


def _create_list(client, name="Weekly digest", **fields):
    shown = client.get("/admin/lists/new")
    assert shown.status_code == 200
    return submit_form(client, "/admin/lists/new", shown.text, name=name, **fields)


def _list_id(name: str) -> int:
    db.session.expire_all()
    return db.session.execute(select(MailingList.id).where(MailingList.name == name)).scalar_one()


def test_create_a_list(app, auth):
    response = _create_list(auth, description="The week's best, every Friday.", visibility="public")
    assert response.status_code == 302
    shown = page(auth.get(response.headers["Location"]))
    assert "List “Weekly digest” created." in shown and "The week's best, every Friday." in shown
    assert "Weekly digest" in page(auth.get("/admin/lists"))
    purpose = db.session.execute(
        select(Purpose).where(Purpose.list_id == _list_id("Weekly digest"))
    ).scalar_one()
    assert purpose.kind == "list"  # every list is a consent purpose of its own


def test_a_list_needs_a_name(app, auth):
    response = _create_list(auth, name="   ")
    assert response.status_code == 400 and "This field is required." in page(response)
    assert db.session.execute(select(func.count()).select_from(MailingList)).scalar_one() == 0


def test_edit_a_list(app, auth):
    created = _create_list(auth)
    edit_url = created.headers["Location"] + "/edit"
    response = submit_form(auth, edit_url, auth.get(edit_url).text, name="Friday digest")
    assert response.status_code == 302 and "List saved." in page(auth.get(response.headers["Location"]))
    assert _list_id("Friday digest")


def _new_form(client, **fields):
    shown = client.get("/admin/forms/new")
    assert shown.status_code == 200
    return submit_form(client, "/admin/forms/new", shown.text, **fields)


def test_create_a_form_and_sign_up_through_it(app, auth, worker):
    _create_list(auth)
    list_id = _list_id("Weekly digest")
    response = _new_form(
        auth,
        name="Footer form",
        slug="footer",
        title="Get the weekly digest",
        lists=[list_id],
        intro="Every Friday.",
        success_message="Thanks! Check your inbox to confirm.",
    )
    assert response.status_code == 302, page(response)
    shown = page(auth.get(response.headers["Location"]))
    assert "Form saved (wording version 1)." in shown
    assert 'action="http://localhost/f/footer"' in shown  # the copy-paste snippet
    assert "http://localhost/f/footer" in shown

    hosted = page(auth.get("/f/footer"))
    assert "Get the weekly digest" in hosted and "Yes, send me “Weekly digest” by email." in hosted
    assert len(consent_values(auth, "footer")) == 1  # no tracking boxes unless asked for
    answer = sign_up(auth, email="reader@example.com", slug="footer")
    assert answer.status_code == 200 and "Thanks! Check your inbox to confirm." in page(answer)
    worker.drain()
    assert "reader@example.com" in page(auth.get("/admin/outbox"))


def test_a_form_snippet_is_a_plain_form_posting_to_the_hosted_url(app, auth, demo_form):
    shown = page(auth.get(f"/admin/forms/{demo_form.public_id}"))
    snippet = shown.split('id="snippet"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0]
    [form] = forms_on(snippet)
    assert form["method"] == "post" and form["action"] == "http://localhost/f/demo"
    names = [name for name, _ in form["fields"]]
    assert {"ts", "website", "email"} <= set(names)
    assert "consent" not in names  # every box unticked


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"slug": "demo"}, "Another form already uses that slug."),
        ({"slug": "Not A Slug!"}, "The slug may use lower-case letters"),
        ({"lists": None}, "Choose at least one list for the form to offer."),
        ({"allowed_origins": "shop.example/path"}, "is not an origin like https://www.example.com"),
        ({"min_age": "12"}, "Number must be between 13 and 21."),
        ({"redirect_url": "javascript:alert(1)"}, "The redirect URL must be a full http(s) address."),
    ],
)
def test_form_mistakes_are_explained(app, auth, demo_form, fields, message):
    list_id = demo_form.lists[0].id
    response = _new_form(auth, **{"name": "Another", "slug": "another", "lists": [list_id], **fields})
    assert response.status_code == 400
    assert message in page(response)
    assert db.session.execute(select(func.count()).select_from(Form)).scalar_one() == 1


def test_form_with_allowed_origins_and_minimum_age(app, auth, demo_form):
    response = _new_form(
        auth,
        name="Shop",
        slug="shop",
        lists=[demo_form.lists[0].id],
        min_age="16",
        allowed_origins="https://Shop.Example/\nhttps://www.shop.example:8443",
    )
    assert response.status_code == 302
    db.session.expire_all()
    form = db.session.execute(select(Form).where(Form.slug == "shop")).scalar_one()
    assert form.origins == ["https://shop.example", "https://www.shop.example:8443"]
    assert "I am at least 16 years old." in page(auth.get("/f/shop"))
    refused = sign_up(auth, slug="shop", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403


def test_form_changes_are_audited_with_what_changed(app, auth, staff_user):
    from mailer.audit.models import AuditEvent

    _create_list(auth)
    created = _new_form(
        auth, name="Footer form", slug="footer", title="Get it", lists=[_list_id("Weekly digest")]
    )
    edit_url = created.headers["Location"] + "/edit"
    changed = submit_form(auth, edit_url, auth.get(edit_url).text, title="Get the weekly digest")
    assert changed.status_code == 302
    again = submit_form(auth, edit_url, auth.get(edit_url).text)  # saved without a change: nothing to record
    assert again.status_code == 302

    db.session.expire_all()
    rows = db.session.execute(
        select(AuditEvent).where(AuditEvent.target_type == "form").order_by(AuditEvent.id)
    ).scalars()
    form = db.session.execute(select(Form).where(Form.slug == "footer")).scalar_one()
    assert [(r.action, r.actor_id, r.target_id) for r in rows] == [
        ("form.created", staff_user.id, form.public_id),
        ("form.edited", staff_user.id, form.public_id),
    ]
    edited = db.session.execute(select(AuditEvent).where(AuditEvent.action == "form.edited")).scalar_one()
    assert edited.details["changed"] == ["title"] and edited.details["notice_version"] == 2
    log = page(auth.get("/admin/audit"))
    assert "Created a sign-up form" in log and "Changed a sign-up form" in log
