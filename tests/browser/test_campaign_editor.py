"""The campaign editor in Chromium: compose with live preview,
test send, send, watch progress without reloading."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from mailer.campaigns.models import Campaign
from mailer.core.extensions import db
from mailer.delivery.models import Delivery
from tests.browser.conftest import keyboard_login, shoot
from tests.support.audience import subscriber

PEOPLE = [
    ("ann@example.com", "Ann Archer"),
    ("bob@example.com", "Bob Baker"),
    ("cem@example.com", "Cem Cakir"),
    ("dia@example.com", "Dia Dorsey"),
    ("eve@example.com", "Eve Evans"),
    ("fay@example.com", "Fay Foster"),
]


def campaign_messages(smtp_server, subject_start: str):
    """What the SMTP server received for the campaign (sign-up confirmations left out)."""
    return [m for m in smtp_server.messages if m.message["Subject"].startswith(subject_start)]


# Two messages a second: six recipients take a few seconds, so the page is seen while it is still sending.
@pytest.mark.config(SEND_RATE_PER_SECOND=2.0)
def test_compose_preview_test_send_and_watch_it_send(
    app, page, live_server, demo_form, staff_user, worker, smtp_server
):
    for email, name in PEOPLE:
        subscriber(demo_form, email, name)
    worker.drain()  # the sign-up confirmations
    keyboard_login(page)

    page.get_by_role("link", name="Campaigns").click()
    expect(page.get_by_text("No campaigns yet")).to_be_visible()
    page.get_by_role("link", name="Write your first campaign").click()
    expect(page.get_by_role("heading", name="New campaign")).to_be_visible()

    page.get_by_label("Campaign name").fill("Autumn news")
    subject = page.get_by_label("Subject", exact=True)
    subject.fill('Autumn is here, {{ contact.first_name | default("friend") }}')
    page.get_by_label("Preheader").fill("Three things worth reading")
    page.get_by_label("Demo newsletter ·").check()
    body = page.get_by_label("Body", exact=True)
    body.fill("# Dear {{ contact.first_name }}\n\nOur **autumn** sale starts today.\n\n- Apples\n- Pears\n")

    preview = page.frame_locator('iframe[title="Email preview"]')
    expect(preview.get_by_role("heading", name="Dear Jane")).to_be_visible()  # the sample contact
    expect(page.locator('[data-preview="subject"]')).to_have_text("Autumn is here, Jane")
    body.press("End")
    body.type("\nPlums arrive next week.")
    expect(preview.get_by_text("Plums arrive next week.")).to_be_visible()  # updated as one types
    expect(preview.get_by_text("Mailer Demo Ltd, 1 Test Street", exact=False)).to_be_visible()  # the footer
    shoot(page, "campaign-editor-desktop")

    page.get_by_label("Preview as").fill("bob@example.com")
    expect(page.locator('[data-preview="subject"]')).to_have_text("Autumn is here, Bob")
    expect(preview.get_by_role("heading", name="Dear Bob")).to_be_visible()

    page.get_by_role("button", name="Mobile").click()
    expect(page.get_by_role("button", name="Mobile")).to_have_attribute("aria-pressed", "true")
    frame_box = page.locator('iframe[title="Email preview"]').bounding_box()
    assert frame_box["width"] <= 390
    shoot(page, "campaign-editor-mobile", full_page=False)
    page.get_by_role("button", name="Text").click()
    text_part = page.locator('[data-preview="text"]')
    expect(text_part).to_contain_text("Plums arrive next week.")
    expect(text_part).to_contain_text("Unsubscribe (http")
    page.get_by_role("button", name="Desktop").click()

    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    expect(page.locator("#campaign-status")).to_have_text("draft")

    page.get_by_label("Addresses").fill("me@example.com, boss@example.com")
    page.get_by_role("button", name="Send test").click()
    expect(
        page.get_by_role("alert").filter(
            has_text="Test of “Autumn is here, Jane” sent to me@example.com, boss@example.com"
        )
    ).to_be_visible()
    worker.drain()
    tests = campaign_messages(smtp_server, "[TEST]")
    assert sorted(r for m in tests for r in m.rcpt_tos) == ["boss@example.com", "me@example.com"]
    assert tests[0].message["Subject"] == "[TEST] Autumn is here, Jane"

    page.get_by_role("button", name="Count recipients").click()
    expect(page.get_by_test_id("recipients")).to_have_text("6")
    page.get_by_role("link", name="Send now…").click()
    expect(page.get_by_role("heading", name="Send “Autumn news” now?")).to_be_visible()
    shoot(page, "campaign-confirm-send")
    page.get_by_role("button", name="Send to 6 recipients now").click()

    expect(page.get_by_text("Sending has started.")).to_be_visible()
    status = page.locator("#campaign-status")
    expect(status).to_have_text("sending")
    page.evaluate("window.__sameDocument = true")  # gone if the page were reloaded
    expect(page.get_by_text("updating live")).to_be_visible()
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    shoot(page, "campaign-progress-sending")

    expect(status).to_have_text("sent", timeout=30_000)
    assert page.evaluate("window.__sameDocument") is True
    stats = {
        key: page.locator(f'[data-progress="{key}"]') for key in ("sent", "remaining", "failed", "skipped")
    }
    expect(stats["sent"]).to_have_text("6")
    expect(stats["remaining"]).to_have_text("0")
    expect(stats["failed"]).to_have_text("0")
    expect(stats["skipped"]).to_have_text("0")
    expect(page.locator('[data-progress="percent"]')).to_have_text("100")
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(page.get_by_role("button", name="Pause")).to_be_hidden()
    expect(page.get_by_text("updating live")).to_be_hidden()
    shoot(page, "campaign-progress-sent")
    email = page.frame_locator('iframe[title="Email preview"]')  # the page shows what was sent
    expect(email.get_by_role("heading", name="Dear Jane")).to_be_visible()

    worker.drain()
    received = campaign_messages(smtp_server, "Autumn is here")
    assert sorted(r for m in received for r in m.rcpt_tos) == sorted(email for email, _ in PEOPLE)
    to_cem = next(m for m in received if m.rcpt_tos == ["cem@example.com"])
    assert to_cem.message["Subject"] == "Autumn is here, Cem"
    db.session.expire_all()
    campaign = db.session.execute(select(Campaign)).scalar_one()
    assert campaign.status == "sent"
    query = select(Delivery.status).where(Delivery.campaign_id == campaign.id)
    statuses = db.session.execute(query).scalars().all()
    assert statuses == ["sent"] * 6


def test_preview_works_without_javascript(nojs_page, demo_form, staff_user):
    page = nojs_page
    keyboard_login(page)  # the owner's second factor is set up and typed without any script too
    page.goto("/admin/campaigns/new")
    page.get_by_label("Campaign name").fill("No script")
    page.get_by_label("Subject", exact=True).fill("Plain and simple")
    page.get_by_label("Demo newsletter ·").check()
    page.get_by_role("button", name="Save and preview").click()
    expect(page.get_by_role("heading", name="Preview of “No script”")).to_be_visible()
    desktop = page.frame_locator('iframe[title="Email preview at desktop width"]')
    expect(desktop.get_by_role("heading", name="Hello Jane,")).to_be_visible()
    phone = page.frame_locator('iframe[title="Email preview at phone width"]')
    expect(phone.get_by_role("heading").first).to_be_visible()
    page.get_by_role("textbox", name="Preview as").fill("nobody@example.com")
    page.get_by_role("button", name="Show").click()
    missing = "No contact matches “nobody@example.com”; showing a sample contact."
    expect(page.get_by_text(missing)).to_be_visible()
    page.get_by_role("link", name="Continue to test and send").click()
    expect(page.get_by_role("link", name="Refresh")).to_have_count(0)  # only shown once there is progress
    expect(page.get_by_role("heading", name="Send a test")).to_be_visible()


@pytest.mark.config(SEED_DEMO=True)
def test_the_preview_catches_up_with_an_edit_it_saw_no_event_for(page, live_server, demo_form, staff_user):
    """An edit made while the first preview is on its way, with no input event (text typed while the page's
    scripts were still loading), still reaches the preview: the answer no longer matches the form, so it asks
    again."""
    edited = []

    def edit_while_on_its_way(route):
        if not edited:  # the page has sent its first preview request: change the Body without any event
            page.locator("textarea[name=body]").evaluate(
                "(box) => { box.value = 'Written while the preview was on its way'; }"
            )
            edited.append(route.request.url)
        route.continue_()

    keyboard_login(page)
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="Demo: first newsletter").click()
    page.route("**/preview.json", edit_while_on_its_way)
    page.get_by_role("link", name="Edit").click()
    preview = page.frame_locator('iframe[title="Email preview"]')
    expect(preview.get_by_text("Written while the preview was on its way")).to_be_visible()
    assert len(edited) == 1
