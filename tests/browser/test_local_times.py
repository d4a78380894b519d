"""Times on admin pages are written in UTC by the server and shown in the viewer's own time zone by the
browser, with the UTC time on hover; admin pages with tables stay readable on a phone."""

from datetime import datetime

from playwright.sync_api import expect

from mailer.core.extensions import db
from tests.browser.conftest import assert_accessible, keyboard_login
from tests.support.campaigns import newsletter


def test_times_in_the_viewers_zone_with_utc_on_hover(app, browser, live_server, staff_user):
    campaign, _ = newsletter(2)
    campaign.status, campaign.started_at = "sent", datetime(2026, 12, 1, 9, 30)
    campaign.finished_at = datetime(2026, 12, 1, 9, 45)
    db.session.commit()
    context = browser.new_context(base_url=live_server, timezone_id="Europe/Berlin", locale="en-GB")
    page = context.new_page()
    keyboard_login(page)
    row = page.locator(f'[data-campaign="{campaign.public_id}"]')
    started = row.locator("time")
    expect(started).to_have_attribute("datetime", "2026-12-01T09:30:00Z")
    expect(started).to_have_attribute("title", "2026-12-01 09:30 UTC")
    expect(started).to_contain_text("01/12/2026, 10:30")  # Berlin is UTC+1 in December
    expect(started).to_contain_text("CET")
    assert_accessible(page)  # the results table too
    page.goto("/admin/campaigns")
    expect(page.locator("time").first).to_contain_text("10:45")
    context.close()


def test_admin_pages_on_a_phone_scroll_their_tables_not_the_page(page, live_server, staff_user, demo_form):
    campaign, _ = newsletter(3)
    campaign.status, campaign.started_at = "sent", datetime(2026, 12, 1, 9, 30)
    db.session.commit()
    page.set_viewport_size({"width": 390, "height": 844})
    keyboard_login(page)
    for path in ("/admin/", "/admin/contacts", "/admin/audit", "/admin/campaigns", "/admin/stats"):
        page.goto(path)
        wide = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert wide[0] <= wide[1], f"{path} scrolls sideways at 390 px: {wide}"
    page.goto("/admin/campaigns")
    region = page.get_by_role("region", name="Campaigns")
    region.focus()
    expect(region).to_be_focused()
    assert region.get_attribute("aria-label")
