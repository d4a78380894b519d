"""The campaign editor and its pages over HTTP: drafts,
validation, previews, test send, compliance, send, roles."""

import re
from datetime import datetime

import pytest
from sqlalchemy import func, select, update

from mailer.campaigns.models import Campaign, Layout
from mailer.core.extensions import db
from mailer.staff.accounts import create_staff
from mailer.subscriptions.models.lists import MailingList
from tests.support.audience import SIGNUP, subscriber
from tests.support.http import csrf_token, login
from tests.support.signup import page


def editor_fields(client, url: str = "/admin/campaigns/new", **overrides) -> dict:
    """What a marketer would submit from the editor: the page's CSRF token plus sensible values."""
    text = client.get(url).text
    demo_list = db.session.execute(select(MailingList)).scalars().first()
    layout = (
        db.session.execute(select(Layout).where(Layout.builtin.is_(True)).order_by(Layout.id))
        .scalars()
        .first()
    )
    fields = {
        "csrf_token": csrf_token(text),
        "name": "Spring news",
        "subject": 'Hi {{ contact.first_name | default("there") }}',
        "preheader": "What is new this spring",
        "from_name": "Demo Shop",
        "from_email": "news@example.com",
        "reply_to": "",
        "lists": [str(demo_list.id)],
        "layout_id": str(layout.id),
        "body_format": "markdown",
        "body": "# Hello {{ contact.first_name | default('there') }}\n\nOur [spring sale](https://shop.example.com/sale).",
        "text_body": "",
        "send_at": "",
        "timezone": "Europe/Berlin",
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def campaign_count() -> int:
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(Campaign)).scalar_one()


def draft(auth, **overrides) -> Campaign:
    """Create a draft through the editor and return it."""
    response = auth.post("/admin/campaigns/new", data=editor_fields(auth, **overrides))
    assert response.status_code == 302, page(response)
    db.session.expire_all()
    return db.session.execute(select(Campaign).order_by(Campaign.id.desc())).scalars().first()


def test_index_empty_state_and_new_campaign_page(auth, demo_form):
    index = auth.get("/admin/campaigns")
    assert index.status_code == 200
    assert "No campaigns yet" in page(index)
    new = auth.get("/admin/campaigns/new")
    assert new.status_code == 200
    text = page(new)
    for label in (
        "Campaign name",
        "Subject",
        "Preheader",
        "Sender address",
        "Reply-to address",
        "Send to these lists",
        "Layout",
        "Markdown",
        "HTML",
        "Text part",
        "Track opens",
        "Track clicks",
        "Time zone",
        "Tracking applies only to contacts who consented",
    ):
        assert label in text, label
    assert "Europe/Berlin" in text and "Classic card" in text


def test_create_then_edit_a_draft(auth, demo_form):
    response = auth.post(
        "/admin/campaigns/new", data=editor_fields(auth, send_at="2030-06-03T09:30", track_clicks="y")
    )
    assert response.status_code == 302
    campaign = db.session.execute(select(Campaign)).scalar_one()
    assert response.headers["Location"].endswith(f"/admin/campaigns/{campaign.public_id}")
    assert (campaign.status, campaign.name, campaign.from_email) == (
        "draft",
        "Spring news",
        "news@example.com",
    )
    assert [lst.name for lst in campaign.lists] == ["Demo newsletter"]
    assert campaign.track_clicks and not campaign.track_opens
    # 09:30 in Berlin in June (CEST, UTC+2) is 07:30 UTC.
    assert campaign.timezone == "Europe/Berlin" and campaign.scheduled_at.strftime("%H:%M") == "07:30"

    shown = page(auth.get(f"/admin/campaigns/{campaign.public_id}"))
    assert "Spring news" in shown and "2030-06-03 09:30 Europe/Berlin" in shown and "draft" in shown

    edit_url = f"/admin/campaigns/{campaign.public_id}/edit"
    form_page = page(auth.get(edit_url))
    assert 'value="Spring news"' in form_page and "2030-06-03T09:30" in form_page
    response = auth.post(
        edit_url,
        data=editor_fields(
            auth,
            edit_url,
            name="Summer news",
            reply_to="Help@Example.com",
            body_format="html",
            body="<p>Hello</p>",
        ),
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert (campaign.name, campaign.reply_to, campaign.body_format) == (
        "Summer news",
        "help@example.com",
        "html",
    )
    assert campaign.scheduled_at is None  # the planned time was cleared

    index = page(auth.get("/admin/campaigns"))
    assert "Summer news" in index and "Draft" in index


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            {"from_email": "not an address"},
            "The sender address “not an address” is not a valid email address.",
        ),
        ({"reply_to": "nobody@"}, "The reply-to address “nobody@” is not a valid email address."),
        ({"lists": None}, "Choose at least one list to send to."),
        ({"subject": "x" * 201}, "The subject is 201 characters long; keep it to 200"),
        ({"subject": ""}, "Enter a subject line."),
        ({"name": "  "}, "Give the campaign a name"),
        ({"body": "Hello {{ contact.first_name "}, "The body has a merge-field error on line 1"),
        ({"send_at": "2030-03-31T02:30"}, "2030-03-31 02:30 does not exist in Europe/Berlin"),
        ({"send_at": "2001-01-01T10:00"}, "The planned send time has passed."),
        ({"send_at": "tomorrow"}, "Enter the send time as a date and time"),
        ({"timezone": "Mars/Olympus"}, "Not a valid choice"),
        ({"layout_id": "abc"}, "Invalid Choice"),
        ({"lists": ["banana"]}, "Invalid choice"),
        ({"body_format": "docx"}, "Not a valid choice"),
    ],
)
def test_validation_errors_are_shown_and_nothing_is_saved(auth, demo_form, overrides, message):
    response = auth.post("/admin/campaigns/new", data=editor_fields(auth, **overrides))
    assert response.status_code == 400
    assert message in page(response)
    assert "The draft was not saved" in page(response)
    assert campaign_count() == 0


def test_a_list_cannot_be_both_included_and_excluded(auth, demo_form):
    list_id = str(demo_form.lists[0].id)
    response = auth.post("/admin/campaigns/new", data=editor_fields(auth, exclusion_lists=[list_id]))
    assert response.status_code == 400
    assert "A list can't be both sent to and excluded: Demo newsletter." in page(response)


def test_oversized_and_malformed_posts_get_clear_answers(auth, demo_form):
    huge = auth.post("/admin/campaigns/new", data=editor_fields(auth, body="x" * 300_000))
    assert huge.status_code == 413 and "What you sent is too large." in page(huge)
    long_body = auth.post("/admin/campaigns/new", data=editor_fields(auth, body="y" * 100_001))
    assert (
        long_body.status_code == 400
        and "The body is too long (100,001 characters; 100,000 at most)." in page(long_body)
    )
    no_token = auth.post("/admin/campaigns/new", data={"name": "x"})
    assert no_token.status_code == 400 and "Your session expired" in page(no_token)
    assert auth.get("/admin/campaigns/nope").status_code == 404
    assert campaign_count() == 0


def test_live_preview_endpoint_renders_what_is_typed(auth, demo_form):
    subscriber(demo_form, "ann@example.com", name="Ann Example")
    fields = editor_fields(auth, subject='News for {{ contact.first_name | default("you") }}')
    preview = auth.post("/admin/campaigns/preview.json", data=fields, headers={"Accept": "application/json"})
    assert preview.status_code == 200
    data = preview.get_json()
    assert data["ok"] and data["subject"] == "News for Jane"  # the sample contact
    assert (
        "<h1" in data["html"]
        and "Hello Jane" in data["html"]
        and "Mailer Demo Ltd, 1 Test Street" in data["html"]
    )
    assert "Hello Jane" in data["text"] and "spring sale" in data["text"]
    assert 'style="' in data["html"]  # CSS inlined as it will be sent

    as_ann = auth.post(
        "/admin/campaigns/preview.json", data={**fields, "preview_contact": "ANN@example.com"}
    ).get_json()
    assert as_ann["subject"] == "News for Ann" and as_ann["contact"] == "ann@example.com"
    missing = auth.post(
        "/admin/campaigns/preview.json", data={**fields, "preview_contact": "who@example.com"}
    ).get_json()
    assert missing["contact_missing"] and missing["subject"] == "News for Jane"

    broken = auth.post("/admin/campaigns/preview.json", data={**fields, "body": "{% if %}"}).get_json()
    assert not broken["ok"] and "template error" in broken["error"]

    no_csrf = auth.post(
        "/admin/campaigns/preview.json",
        data={k: v for k, v in fields.items() if k != "csrf_token"},
        headers={"Accept": "application/json"},
    )
    assert no_csrf.status_code == 400 and no_csrf.get_json()["ok"] is False
    assert campaign_count() == 0  # previews store nothing


def test_preview_page_works_without_javascript(auth, demo_form):
    campaign = draft(auth)
    response = auth.get(f"/admin/campaigns/{campaign.public_id}/preview")
    assert response.status_code == 200
    text = page(response)
    assert "Hi Jane" in text and "Phone (390 px)" in text and "Text part" in text
    document = auth.get(f"/admin/campaigns/{campaign.public_id}/preview.html")
    assert document.status_code == 200 and "Hello Jane" in document.text
    # Framed by our own pages only, and no script in a marketer's HTML ever runs.
    assert "sandbox" in document.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in document.headers["Content-Security-Policy"]
    assert document.headers["X-Frame-Options"] == "SAMEORIGIN"

    saved = auth.post("/admin/campaigns/new", data=editor_fields(auth, name="Via preview", then="preview"))
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/preview")


def test_campaign_page_shows_counts_and_readiness(auth, demo_form):
    campaign = draft(auth)
    shown = page(auth.get(f"/admin/campaigns/{campaign.public_id}"))
    assert "Send a test" in shown and "Who will receive it" in shown and "Not counted yet" in shown
    assert "A postal address for the footer" in shown and "has every footer part" in shown


def form_token(client, url: str) -> str:
    return csrf_token(client.get(url).text)


def test_test_send_arrives_marked_as_a_test(auth, demo_form, smtp_server, worker):
    subscriber(demo_form, "bob@example.com", name="Bob Builder")
    campaign = draft(auth)
    show = f"/admin/campaigns/{campaign.public_id}"
    response = auth.post(
        f"{show}/test",
        data={"csrf_token": form_token(auth, show), "addresses": "ann@example.com,\nBob@Example.com"},
    )
    assert response.status_code == 302
    shown = page(auth.get(response.headers["Location"]))
    assert "Test of “Hi Jane” sent to ann@example.com, bob@example.com (2 messages" in shown
    worker.drain()
    [to_ann] = smtp_server.to("ann@example.com")
    [to_bob] = [
        m for m in smtp_server.to("bob@example.com") if "Hi" in m.message["Subject"]
    ]  # not the confirmation
    assert to_ann.message["Subject"] == "[TEST] Hi Jane"  # an unknown address sees the sample contact
    assert to_bob.message["Subject"] == "[TEST] Hi Bob"  # a known one is rendered as that contact
    html = to_bob.message.get_body(("html",)).get_content()
    assert "Hello Bob" in html and "Mailer Demo Ltd, 1 Test Street" in html
    db.session.expire_all()
    assert campaign.status == "draft"  # a test changes nothing about the campaign


@pytest.mark.parametrize(
    "addresses, message",
    [
        ("", "Enter at least one address to send the test to."),
        ("ann@example.com, not-an-address", "“not-an-address” is not a valid email address."),
        (", ".join(f"p{i}@example.com" for i in range(11)), "Send a test to 10 addresses at most."),
    ],
)
def test_test_send_refuses_bad_addresses(auth, demo_form, addresses, message):
    campaign = draft(auth)
    show = f"/admin/campaigns/{campaign.public_id}"
    response = auth.post(f"{show}/test", data={"csrf_token": form_token(auth, show), "addresses": addresses})
    assert response.status_code == 400 and message in page(response)


def test_compliance_preview_counts_recipients_and_exclusions_by_reason(auth, demo_form):
    from mailer.contacts.suppression import suppress
    from mailer.subscriptions.withdrawal import withdraw_list

    subscriber(demo_form, "ann@example.com")
    subscriber(demo_form, "bob@example.com")
    subscriber(demo_form, "pending@example.com", confirmed=False)
    left = subscriber(demo_form, "left@example.com")
    withdraw_list(left, demo_form.lists[0], SIGNUP, {"via": "test"})
    frozen = subscriber(demo_form, "frozen@example.com")
    frozen.status = "restricted"
    blocked = subscriber(demo_form, "blocked@example.com")
    suppress(blocked.email_hash, "complaint")
    db.session.commit()

    campaign = draft(auth)
    show = f"/admin/campaigns/{campaign.public_id}"
    response = auth.post(f"{show}/compliance", data={"csrf_token": form_token(auth, show)})
    assert response.status_code == 302
    text = page(auth.get(show))
    assert "2 recipients would receive it now; 4 excluded." in text
    for label, n in [
        ("Never confirmed their subscription (double opt-in pending)", 1),
        ("Unsubscribed", 1),
        ("Processing restricted", 1),
        ("On the suppression list", 1),
    ]:
        assert re.search(rf"<td>{re.escape(label)}</td><td class=\"text-end\">{n}</td>", text), label
    db.session.expire_all()
    assert campaign.compliance["recipients"] == 2  # stored with the campaign
    assert campaign.compliance["excluded"]["unconfirmed"] == 1

    confirm_page = page(auth.get(f"{show}/send"))
    assert "Send to 2 recipients now" in confirm_page


@pytest.mark.config(MAILER_POSTAL_ADDRESS="")
def test_sending_is_refused_without_a_postal_address(auth, demo_form):
    subscriber(demo_form, "ann@example.com")
    campaign = draft(auth)
    show = f"/admin/campaigns/{campaign.public_id}"
    assert "No postal address is set" in page(auth.get(show))
    response = auth.post(f"{show}/send", data={"csrf_token": form_token(auth, f"{show}/send")})
    assert response.status_code == 400
    assert "Not sent." in page(
        response
    ) and "No postal address is set: add it under Settings → Organisation" in page(response)
    db.session.expire_all()
    assert campaign.status == "draft" and campaign.started_at is None


def test_schedule_in_a_time_zone_after_confirmation(auth, demo_form):
    subscriber(demo_form, "ann@example.com")
    campaign = draft(auth)
    show = f"/admin/campaigns/{campaign.public_id}"
    confirm_page = auth.get(
        f"{show}/schedule", query_string={"send_at": "2030-01-15T08:00", "timezone": "America/New_York"}
    )
    assert confirm_page.status_code == 200
    assert "Tuesday, January 15, 2030 at 08:00" in page(confirm_page) and "2030-01-15 13:00 UTC" in page(
        confirm_page
    )
    db.session.expire_all()
    assert campaign.status == "draft"  # looking is not scheduling
    bad = auth.get(
        f"{show}/schedule", query_string={"send_at": "2030-03-10T02:30", "timezone": "America/New_York"}
    )
    assert bad.status_code == 400 and "does not exist in America/New_York" in page(bad)

    response = auth.post(
        f"{show}/schedule",
        data={
            "csrf_token": csrf_token(confirm_page.text),
            "send_at": "2030-01-15T08:00",
            "timezone": "America/New_York",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert campaign.status == "scheduled" and campaign.scheduled_at.isoformat() == "2030-01-15T13:00:00"
    shown = page(auth.get(show))
    assert (
        "Scheduled for <strong>2030-01-15 08:00 America/New_York</strong>" in shown
        and "Cancel campaign" in shown
    )
    assert (
        auth.get(f"/admin/campaigns/{campaign.public_id}/edit").status_code == 302
    )  # only drafts are edited


def test_a_scheduled_campaign_goes_back_to_draft(auth, demo_form):
    from mailer.audit.models import AuditEvent
    from mailer.campaigns.lifecycle import start_due_campaigns

    subscriber(demo_form, "ann@example.com")
    campaign = draft(auth)
    show = f"/admin/campaigns/{campaign.public_id}"
    assert (
        auth.post(
            f"{show}/schedule",
            data={
                "csrf_token": form_token(auth, show),
                "send_at": "2030-01-15T08:00",
                "timezone": "Europe/Berlin",
            },
        ).status_code
        == 302
    )
    shown = page(auth.get(show))
    assert "Back to draft" in shown and "take it back to draft to change anything" in shown
    assert auth.get(f"{show}/progress.json").get_json()["actions"]["unschedule"] is True

    refused = auth.post(f"{show}/unschedule")
    assert refused.status_code == 400 and "Your session expired" in page(refused)
    db.session.expire_all()
    assert campaign.status == "scheduled"

    response = auth.post(f"{show}/unschedule", data={"csrf_token": form_token(auth, show)})
    assert response.status_code == 302
    shown = page(auth.get(response.headers["Location"]))
    assert (
        "Back to draft: it will not be sent" in shown
        and "Send a test" in shown
        and "Back to draft<" not in shown
    )
    db.session.expire_all()
    assert campaign.status == "draft" and campaign.scheduled_at is None
    assert auth.get(f"{show}/edit").status_code == 200  # editable again
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "campaign.unschedule")
    ).scalar_one()
    assert event.target_id == campaign.public_id and event.actor.email == "owner@example.com"
    assert event.details["was_scheduled_at_utc"] == "2030-01-15T07:00"
    assert "Took a scheduled campaign back to draft" in page(auth.get("/admin/audit"))

    db.session.execute(
        update(Campaign).values(scheduled_at=datetime(2001, 1, 1))
    )  # long overdue, were it scheduled
    db.session.commit()
    assert start_due_campaigns() == 0
    db.session.expire_all()
    assert campaign.status == "draft"
    again = auth.post(f"{show}/unschedule", data={"csrf_token": form_token(auth, show)})
    assert "only a scheduled campaign can go back to draft" in page(auth.get(again.headers["Location"]))


def test_pause_resume_cancel_are_posts_that_need_csrf(auth, demo_form):
    subscriber(demo_form, "ann@example.com")
    campaign = draft(auth)
    show = f"/admin/campaigns/{campaign.public_id}"
    response = auth.post(f"{show}/send", data={"csrf_token": form_token(auth, f"{show}/send")})
    assert response.status_code == 302  # no worker runs here: the campaign stays "sending"
    db.session.expire_all()
    assert campaign.status == "sending"
    progress = auth.get(f"{show}/progress.json").get_json()
    assert progress["status"] == "sending" and progress["total"] == 1 and progress["remaining"] == 1
    assert progress["actions"] == {"pause": True, "resume": False, "cancel": True, "unschedule": False}

    for action in ("pause", "resume", "cancel"):
        refused = auth.post(f"{show}/{action}")
        assert refused.status_code == 400 and "Your session expired" in page(refused)
    assert auth.get(f"{show}/pause").status_code == 405
    db.session.expire_all()
    assert campaign.status == "sending"

    assert auth.post(f"{show}/pause", data={"csrf_token": form_token(auth, show)}).status_code == 302
    db.session.expire_all()
    assert campaign.status == "paused"
    assert "Paused by a person." in page(auth.get(show))
    again = auth.post(f"{show}/pause", data={"csrf_token": form_token(auth, show)})
    assert "This campaign is paused; it can&#39;t be paused now." in auth.get(again.headers["Location"]).text
    assert auth.post(f"{show}/resume", data={"csrf_token": form_token(auth, show)}).status_code == 302
    db.session.expire_all()
    assert campaign.status == "sending"
    assert auth.post(f"{show}/cancel", data={"csrf_token": form_token(auth, show)}).status_code == 302
    db.session.expire_all()
    assert campaign.status == "cancelled"
    final = auth.get(f"{show}/progress.json").get_json()
    assert final["final"] and final["actions"] == {
        "pause": False,
        "resume": False,
        "cancel": False,
        "unschedule": False,
    }


def test_viewers_see_campaigns_but_cannot_edit_or_send(client, demo_form):
    from mailer.campaigns.drafts import DraftFields, create_draft
    from mailer.campaigns.layouts import default_layout, ensure_builtin_layouts

    ensure_builtin_layouts()
    campaign = create_draft(
        DraftFields(
            name="Spring news",
            subject="Hi",
            from_email="news@example.com",
            body="Hello",
            layout_id=default_layout().id,
            list_ids=[demo_form.lists[0].id],
        )
    )
    create_staff("viewer@example.com", "correct horse battery", "viewer")
    db.session.commit()
    viewer = client
    login(viewer, "viewer@example.com", "correct horse battery")
    show = f"/admin/campaigns/{campaign.public_id}"
    assert viewer.get("/admin/campaigns").status_code == 200
    shown = viewer.get(show)
    assert shown.status_code == 200 and "Send test" not in shown.text and ">Edit<" not in shown.text
    assert viewer.get(f"{show}/preview").status_code == 200
    assert viewer.get(f"{show}/progress.json").status_code == 200
    token = csrf_token(viewer.get("/admin/campaigns").text)
    for url in (
        "/admin/campaigns/new",
        f"{show}/edit",
        f"{show}/send",
        f"{show}/schedule",
        "/admin/layouts/new",
    ):
        assert viewer.get(url).status_code == 403, url
    for url in (
        f"{show}/edit",
        f"{show}/test",
        f"{show}/compliance",
        f"{show}/send",
        f"{show}/pause",
        f"{show}/copy",
        f"{show}/delete",
        "/admin/campaigns/preview.json",
        "/admin/layouts/new",
    ):
        assert viewer.post(url, data={"csrf_token": token}).status_code == 403, url
    db.session.expire_all()
    assert campaign.status == "draft" and campaign_count() == 1


def test_copy_and_delete_a_draft(auth, demo_form):
    campaign = draft(auth)
    show = f"/admin/campaigns/{campaign.public_id}"
    copied = auth.post(f"{show}/copy", data={"csrf_token": form_token(auth, show)})
    assert copied.status_code == 302 and campaign_count() == 2
    assert "Copy of Spring news" in page(auth.get(copied.headers["Location"]))
    deleted = auth.post(f"{show}/delete", data={"csrf_token": form_token(auth, show)})
    assert deleted.status_code == 302 and campaign_count() == 1


FOOTERLESS = "<html><body><h1>{{ organisation }}</h1>{{ content }}</body></html>"


def test_layouts_refuse_a_missing_footer_and_keep_built_ins_read_only(auth, demo_form):
    index = page(auth.get("/admin/layouts"))
    for name in ("Classic card", "Bold banner", "Plain letter"):
        assert name in index
    token = form_token(auth, "/admin/layouts/new")
    refused = auth.post("/admin/layouts/new", data={"csrf_token": token, "name": "Mine", "html": FOOTERLESS})
    assert refused.status_code == 400
    text = page(refused)
    assert "The layout was not saved." in text
    assert "The layout must contain the unsubscribe link: add {{ unsubscribe_url }} to the footer." in text
    assert "postal address" in text and "preference-centre link" in text
    assert db.session.execute(select(func.count()).select_from(Layout)).scalar_one() == 3

    broken = auth.post("/admin/layouts/new", data={"csrf_token": token, "name": "Mine", "html": "{% if %}"})
    assert broken.status_code == 400 and "Template error on line 1" in page(broken)

    good = FOOTERLESS.replace(
        "</body>",
        '<p>{{ postal_address }} <a href="{{ unsubscribe_url }}">Unsubscribe</a> '
        '<a href="{{ preferences_url }}">Preferences</a></p></body>',
    )
    saved = auth.post("/admin/layouts/new", data={"csrf_token": token, "name": "Mine", "html": good})
    assert saved.status_code == 302
    mine = db.session.execute(select(Layout).where(Layout.name == "Mine")).scalar_one()
    assert mine.verified and not mine.builtin
    shown = auth.get(saved.headers["Location"])
    assert shown.status_code == 200 and "footer complete" in shown.text
    document = auth.get(f"/admin/layouts/{mine.public_id}/preview.html")
    assert "A headline for your news" in document.text and "Mailer Demo Ltd" in document.text

    live = auth.post(
        "/admin/layouts/preview.json", data={"csrf_token": token, "name": "X", "html": FOOTERLESS}
    )
    data = live.get_json()
    assert data["ok"] and len(data["problems"]) == 3 and "A headline for your news" in data["html"]

    classic = db.session.execute(select(Layout).where(Layout.name == "Classic card")).scalar_one()
    edit = auth.get(f"/admin/layouts/{classic.public_id}/edit")
    assert edit.status_code == 302  # built-ins are copied, not edited
    copied = auth.post(f"/admin/layouts/{classic.public_id}/copy", data={"csrf_token": token})
    assert copied.status_code == 302 and "/edit" in copied.headers["Location"]
    assert "Copy of Classic card" in page(auth.get(copied.headers["Location"]))
