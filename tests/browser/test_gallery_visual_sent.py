"""Every gallery starter opened in the Visual editor (Chromium), as the block editor re-exports it (its styles
moved into a <style> block of #id rules), saved and test-sent: the HTML part stored in the outbox passes the
email-client-safe markup check (tables, inline styles, no script, nothing wider than 640 px, alt texts), so
what the editor makes of a starter is as safe as the starter's own HTML (tests/campaigns/test_gallery_sent.py
sends the other formats through aiosmtpd)."""

import email
import re
from email import policy

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from mailer.campaigns import gallery
from mailer.campaigns.models import Campaign
from mailer.core.extensions import db
from mailer.delivery.models import OutboxMessage
from tests.browser.conftest import keyboard_login
from tests.browser.test_visual_editor import _watch
from tests.campaigns.test_gallery import email_safety_problems


@pytest.mark.slow
@pytest.mark.config(SEED_DEMO=True)
def test_every_starter_made_in_the_visual_editor_is_sent_as_email_safe_html(
    app, page, live_server, demo_form, staff_user, worker
):
    problems = _watch(page)
    keyboard_login(page)
    for number, item in enumerate(gallery.STARTERS, start=1):
        page.goto("/admin/campaigns/gallery")
        page.get_by_role("link", name=f"Use {item.name} in the Visual editor").click()
        expect(page.get_by_role("region", name="Visual email editor")).to_be_visible()
        canvas = page.frame_locator("#visual-canvas iframe.gjs-frame")
        expect(canvas.locator("table").first).to_be_visible()
        page.get_by_label("Demo newsletter ·").check()
        page.get_by_label("Campaign name").fill(f"Starter {number}")
        text = canvas.locator("p").first  # a change in the editor: the body becomes the editor's export
        text.dblclick()
        expect(text).to_have_attribute("contenteditable", "true")  # editing: typing goes in
        page.keyboard.press("Control+End")
        page.keyboard.type(" See you soon.")
        # Leave the text: click a heading, or (the letter has none) the empty canvas below the email.
        headings = canvas.locator("h1, h2")
        if headings.count():
            headings.first.click()
        else:
            frame = page.locator("#visual-canvas iframe.gjs-frame").bounding_box()
            page.mouse.click(frame["x"] + frame["width"] / 2, frame["y"] + frame["height"] - 10)
        expect(page.locator("textarea[name=body]")).to_have_value(re.compile("See you soon"))  # synced
        page.get_by_role("button", name="Save and preview").click()
        expect(page.get_by_role("heading", name=re.compile("Preview"))).to_be_visible()
        db.session.rollback()
        campaign = db.session.execute(
            select(Campaign).where(Campaign.name == f"Starter {number}")
        ).scalar_one()
        assert campaign.body_format == "visual" and campaign.body_project, item.key
        assert campaign.body.startswith("<style>"), item.key  # the editor's export, not the starter's file
        page.goto(page.url.replace("/preview", ""))
        page.get_by_label("Addresses").fill("tester@example.org")
        page.get_by_role("button", name="Send test").click()
        expect(page.locator("[data-test-sent]")).to_contain_text("sent to tester@example.org")
        worker.drain()
        db.session.rollback()
        sent = db.session.execute(
            select(OutboxMessage).where(OutboxMessage.rcpt_to.contains("tester@")).order_by(OutboxMessage.id)
        ).scalars()
        raw = [m.raw for m in sent]
        assert len(raw) == number
        html = email.message_from_bytes(raw[-1], policy=policy.default).get_body(("html",)).get_content()
        assert email_safety_problems(html) == [], item.key
        assert "See you soon." in html, item.key
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
