"""Archiving a list: it leaves every preference centre and form, can't be chosen for a new campaign, keeps its
subscriptions and history, and can come back. Audited; editors only; CSRF-protected."""

import pytest
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.consent.models import Notice
from mailer.core.extensions import db
from mailer.demo import seed_demo
from mailer.subscriptions.lists import archive_list
from mailer.subscriptions.models.lists import MailingList, Subscription
from tests.public.recipients import news_list, preferences_path, subscribed_contact
from tests.support.html_forms import submit_form
from tests.support.http import csrf_token, form_timer, staff_client
from tests.support.signup import page


def _archive(client, mailing_list: MailingList):
    url = f"/admin/lists/{mailing_list.public_id}/archive"
    shown = client.get(url)
    assert shown.status_code == 200
    return shown, submit_form(client, url, shown.text)


def test_archiving_the_demo_list_explains_then_closes_its_form_and_preference_centre(app, auth, demo_form):
    demo = demo_form.lists[0]
    ann = subscribed_contact("ann@example.com", [demo], name="Ann")
    before = page(auth.get(preferences_path(app, ann)))
    assert f"Yes, send me “{demo.name}” by email." in before

    opened_before = form_timer(auth)  # someone had the form open while the list was archived
    shown, done = _archive(auth, demo)
    text = page(shown)
    assert "1 confirmed subscriber will no longer see it in their preference centre" in text
    assert f"{demo_form.name} offers no other list and will stop taking sign-ups" in text
    assert done.status_code == 302
    assert "archived: it is no longer offered anywhere" in page(auth.get(done.headers["Location"]))
    assert "Archived on" in page(auth.get(f"/admin/lists/{demo.public_id}"))

    assert f"“{demo.name}”" not in page(auth.get(preferences_path(app, ann)))
    hosted = auth.get("/f/demo")
    assert hosted.status_code == 410 and "Sign-ups are closed" in page(hosted)
    refused = auth.post("/f/demo", data={"email": "bob@example.com", "ts": opened_before, "website": ""})
    assert refused.status_code == 410 and "no longer takes sign-ups" in page(refused)
    json_answer = auth.post(
        "/f/demo", data={"email": "bob@example.com"}, headers={"Accept": "application/json"}
    )
    assert json_answer.status_code == 410 and "no longer takes sign-ups" in json_answer.json["error"]

    db.session.expire_all()
    [sub] = db.session.execute(select(Subscription).where(Subscription.list_id == demo.id)).scalars()
    assert sub.status == "confirmed"  # kept: archiving ends nobody's subscription
    [event] = db.session.execute(select(AuditEvent).where(AuditEvent.action == "list.archived")).scalars()
    assert event.target_id == demo.public_id and event.actor_id is not None
    assert event.details["confirmed"] == 1 and event.details["forms_closed"] == [demo_form.public_id]

    restore_url = f"/admin/lists/{demo.public_id}/unarchive"
    assert "will see it again" in page(auth.get(restore_url))
    restored = submit_form(auth, restore_url, auth.get(restore_url).text)
    assert restored.status_code == 302
    assert auth.get("/f/demo").status_code == 200
    assert f"Yes, send me “{demo.name}” by email." in page(auth.get(preferences_path(app, ann)))
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "list.unarchived")).scalar_one()


def test_a_form_with_another_list_keeps_working_without_the_archived_one(app, auth, demo_form):
    demo, offers = demo_form.lists[0], news_list("Offers")
    settings_url = f"/admin/forms/{demo_form.public_id}/edit"
    saved = submit_form(auth, settings_url, auth.get(settings_url).text, lists=[demo.id, offers.id])
    assert saved.status_code == 302, page(saved)
    assert "Yes, send me “Offers” by email." in page(auth.get("/f/demo"))

    archive_list(db.session.get(MailingList, offers.id))
    db.session.commit()
    hosted = auth.get("/f/demo")
    assert hosted.status_code == 200 and "“Offers”" not in page(hosted)
    # The form's notice (the proof of what people saw) was published again without the archived list.
    db.session.expire_all()
    notices = db.session.execute(
        select(Notice).where(Notice.key == f"form:{demo_form.public_id}").order_by(Notice.version)
    ).scalars()
    latest = list(notices)[-1]
    assert [box["purpose"] for box in latest.content["checkboxes"]][:1] == [f"list:{demo.public_id}"]
    assert f"list:{offers.public_id}" not in str(latest.content)
    # A new form can't offer an archived list.
    new = submit_form(
        auth, "/admin/forms/new", auth.get("/admin/forms/new").text, name="New", slug="new", lists=[offers.id]
    )
    assert new.status_code == 400


def test_a_new_campaign_cannot_choose_an_archived_list(app, auth, demo_form):
    demo = demo_form.lists[0]
    assert demo.name in page(auth.get("/admin/campaigns/new"))
    archive_list(demo)
    db.session.commit()
    shown = auth.get("/admin/campaigns/new")
    assert f"{demo.name} · " not in page(shown)
    sent = submit_form(auth, "/admin/campaigns/new", shown.text, name="Try", subject="Hi", lists=[demo.id])
    assert sent.status_code == 400
    assert "not a valid choice" in page(sent)  # only a crafted request can even try


def test_only_editors_archive_and_only_with_the_form_token(app):
    with app.app_context():
        public_id = seed_demo().lists[0].public_id
    url = f"/admin/lists/{public_id}/archive"
    viewer = staff_client(app, "viewer")
    assert viewer.get(url).status_code == 403
    viewer_token = csrf_token(viewer.get("/admin/lists").text)
    assert viewer.post(url, data={"csrf_token": viewer_token}).status_code == 403
    marketer = staff_client(app, "marketer")
    assert marketer.post(url, data={}).status_code == 400  # no CSRF token
    with app.app_context():
        assert db.session.execute(select(MailingList.archived_at)).scalar_one() is None
    token = csrf_token(marketer.get(url).text)
    assert marketer.post(url, data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert db.session.execute(select(MailingList.archived_at)).scalar_one() is not None
    # Archived already: the archive page is gone, the un-archive page is there.
    assert marketer.get(url).status_code == 404
    assert marketer.get(f"/admin/lists/{public_id}/unarchive").status_code == 200


@pytest.mark.parametrize("hostile", ["nope", "%27%20OR%201%3D1", "x" * 500, "%00", "..%2F..%2Fetc"])
def test_hostile_list_ids_are_not_found(app, auth, demo_form, hostile):
    for action in ("archive", "unarchive"):
        assert auth.get(f"/admin/lists/{hostile}/{action}").status_code == 404


def test_adding_a_contact_by_hand_does_not_offer_an_archived_list(app, auth, demo_form):
    demo = demo_form.lists[0]
    assert demo.name in page(auth.get("/admin/contacts/new"))
    archive_list(demo)
    db.session.commit()
    shown = auth.get("/admin/contacts/new")
    assert demo.name not in page(shown) and "list</a> first." in page(shown)
    tried = auth.post(
        "/admin/contacts/new",
        data={
            "csrf_token": csrf_token(shown.text),
            "email": "ann@example.com",
            "lists": [demo.public_id],
            "basis": "double_opt_in",
        },
    )
    assert tried.status_code == 400 and "Create a <a" in page(tried)  # its only list is archived
    assert db.session.execute(select(Subscription)).first() is None


def test_the_form_editor_does_not_offer_an_archived_list_but_keeps_the_link(app, auth, demo_form):
    demo, offers = demo_form.lists[0], news_list("Offers")
    settings_url = f"/admin/forms/{demo_form.public_id}/edit"
    saved = submit_form(
        auth,
        settings_url,
        auth.get(settings_url).text,
        lists=[demo.id, offers.id],
        **{f"label-{offers.purpose.public_id}": "Yes, the offers please."},
    )
    assert saved.status_code == 302, page(saved)
    archive_list(db.session.get(MailingList, offers.id))
    db.session.commit()

    editor = auth.get(settings_url)
    assert f'name="lists" type="checkbox" value="{offers.id}"' not in editor.text  # no checkbox for it
    assert f'name="label-{offers.purpose.public_id}"' not in editor.text
    assert "Also linked to the archived list “Offers”: not shown on the form" in page(editor)
    assert f'name="lists" type="checkbox" value="{demo.id}"' in editor.text
    assert submit_form(auth, settings_url, editor.text, title="New title").status_code == 302
    db.session.expire_all()
    form = db.session.get(type(demo_form), demo_form.id)
    assert {lst.name for lst in form.lists} == {demo.name, "Offers"}  # the link survived the save
    assert form.labels[f"list:{offers.public_id}"] == "Yes, the offers please."
    assert "New title" in page(auth.get("/f/demo")) and "the offers please" not in page(auth.get("/f/demo"))

    restore_url = f"/admin/lists/{offers.public_id}/unarchive"
    assert submit_form(auth, restore_url, auth.get(restore_url).text).status_code == 302
    assert "Yes, the offers please." in page(auth.get("/f/demo"))  # back where it was, with its wording


def test_the_segment_builder_offers_no_archived_list_unless_the_segment_names_it(app, auth, demo_form):
    demo, offers = demo_form.lists[0], news_list("Offers")
    archive_list(db.session.get(MailingList, offers.id))
    db.session.commit()
    builder = auth.get("/admin/segments/new")
    assert f'"{demo.public_id}"' in builder.text and offers.public_id not in builder.text
    data = {
        "csrf_token": csrf_token(builder.text),
        "name": "Old offers",
        "match": "all",
        "g0-match": "all",
        "g0-r0-field": "list",
        "g0-r0-op": "confirmed",
        "g0-r0-value": offers.public_id,
    }
    saved = auth.post("/admin/segments/new", data=data | {"action": "save"}, follow_redirects=True)
    assert "Segment “Old offers” saved." in saved.text  # a segment may still name it (its people stay)
    assert f'<option value="{offers.public_id}" selected>Offers (archived)</option>' in saved.text
