"""Archiving and deleting a sign-up form: an archived form takes no sign-ups (410 on its page, its POST, the
embed's JSON and fill timer) and leaves the default listing; a deleted one is listed nowhere but keeps its
notice versions, so the evidence of a past sign-up through it still shows what was shown. Audited; CSRF."""

from sqlalchemy import func, select

from mailer.audit.models import AuditEvent
from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from mailer.demo import seed_demo
from mailer.subscriptions.models.forms import Form
from tests.support.html_forms import submit_form
from tests.support.http import csrf_token, form_timer, staff_client
from tests.support.signup import contact_by_email, page, sign_up


def _change(client, form: Form, action: str):
    url = f"/admin/forms/{form.public_id}/{action}"
    shown = client.get(url)
    assert shown.status_code == 200, action
    return shown, submit_form(client, url, shown.text)


def _contacts() -> int:
    return db.session.execute(select(func.count(Contact.id))).scalar_one()


def test_an_archived_form_takes_no_sign_ups_and_leaves_the_listing_until_it_comes_back(app, auth, demo_form):
    opened_before = form_timer(auth)  # someone had the form open while it was archived
    sign_up(auth, "ann@example.com")
    shown, done = _change(auth, demo_form, "archive")
    assert "stop taking sign-ups" in page(shown) and "1 contact signed up through it" in page(shown)
    assert done.status_code == 302
    flashed = page(auth.get(done.headers["Location"]))
    assert "archived: it takes no sign-ups until you un-archive it" in flashed

    listing = page(auth.get("/admin/forms"))
    assert "Demo form</a>" not in listing and "Archived forms (1)" in listing
    assert "Demo form</a>" in page(auth.get("/admin/forms?archived=1"))

    before = _contacts()
    hosted = auth.get("/f/demo")
    assert hosted.status_code == 410 and "Sign-ups are closed" in page(hosted)
    posted = auth.post("/f/demo", data={"email": "bob@example.com", "ts": opened_before, "website": ""})
    assert posted.status_code == 410 and "no longer takes sign-ups" in page(posted)
    as_json = auth.post("/f/demo", data={"email": "bob@example.com"}, headers={"Accept": "application/json"})
    assert as_json.status_code == 410 and as_json.json == {
        "ok": False,
        "error": "This form no longer takes sign-ups. Nothing was sent or stored.",
        "field": "",
    }
    assert auth.get("/f/demo/start").status_code == 410
    assert _contacts() == before  # nothing stored
    # A slug no form ever had is still plainly not found.
    assert auth.get("/f/no-such-form").status_code == 404

    [event] = db.session.execute(select(AuditEvent).where(AuditEvent.action == "form.archived")).scalars()
    assert event.target_id == demo_form.public_id and event.actor_id is not None
    assert contact_by_email("ann@example.com") is not None  # her sign-up stays

    _, back = _change(auth, demo_form, "unarchive")
    assert back.status_code == 302
    assert auth.get("/f/demo").status_code == 200
    assert "Demo form</a>" in page(auth.get("/admin/forms"))
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "form.unarchived")).scalar_one()


def test_a_deleted_form_is_listed_nowhere_but_the_proof_of_its_sign_ups_survives(app, auth, demo_form):
    sign_up(auth, "ann@example.com")
    contact = contact_by_email("ann@example.com")
    evidence_url = f"/admin/contacts/{contact.public_id}/evidence"
    before = page(auth.get(evidence_url))
    assert "One email a month with product news." in before and "version 1" in before

    shown, done = _change(auth, demo_form, "delete")
    assert "stays reserved" in page(shown) and "every opt-in evidence page still shows them" in page(shown)
    assert done.status_code == 302 and done.headers["Location"].endswith("/admin/forms")
    assert "Demo form</a>" not in page(auth.get("/admin/forms"))
    assert "Demo form</a>" not in page(auth.get("/admin/forms?archived=1"))
    closed = auth.get("/f/demo")
    assert closed.status_code == 410 and "Sign-ups are closed" in page(closed)

    after = page(auth.get(evidence_url))
    assert "One email a month with product news." in after and "version 1" in after
    assert "Yes, send me “Demo newsletter” by email." in after and "form:demo" in after
    tombstone = page(auth.get(f"/admin/forms/{demo_form.public_id}"))
    assert "Deleted on" in tombstone and "Subscribe to the demo newsletter" in tombstone
    for gone in ("edit", "archive", "unarchive", "delete"):
        assert auth.get(f"/admin/forms/{demo_form.public_id}/{gone}").status_code == 404
    [event] = db.session.execute(select(AuditEvent).where(AuditEvent.action == "form.deleted")).scalars()
    assert event.target_id == demo_form.public_id and event.details["slug"] == "demo"
    # Its address is never given to another form (the evidence names it).
    again = submit_form(
        auth,
        "/admin/forms/new",
        auth.get("/admin/forms/new").text,
        name="Again",
        slug="demo",
        lists=[demo_form.lists[0].id],
    )
    assert again.status_code == 400 and "Another form already uses that slug." in page(again)


def test_who_may_archive_and_delete_forms(app):
    with app.app_context():
        public_id = seed_demo().public_id
    base = f"/admin/forms/{public_id}"
    viewer = staff_client(app, "viewer")
    assert viewer.get(f"{base}/archive").status_code == 403
    marketer = staff_client(app, "marketer")
    assert marketer.get(f"{base}/delete").status_code == 403
    assert "/delete" not in marketer.get(base).text and "/archive" in marketer.get(base).text
    assert marketer.post(f"{base}/archive", data={}).status_code == 400  # no CSRF token
    token = csrf_token(marketer.get(f"{base}/archive").text)
    assert marketer.post(f"{base}/archive", data={"csrf_token": token}).status_code == 302
    assert marketer.get(f"{base}/archive").status_code == 404  # already archived
    admin = staff_client(app, "admin")
    token = csrf_token(admin.get(f"{base}/delete").text)
    assert admin.post(f"{base}/delete", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert db.session.execute(select(Form.deleted_at)).scalar_one() is not None
