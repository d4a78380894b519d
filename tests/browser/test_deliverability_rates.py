"""The rates section of the Deliverability page in a real browser: each domain's two charts are images with a
name and their limit line, the last 24 hours against the limits is a table, the table of days opens from its
summary, and the section has no accessibility violation."""

import pytest
from playwright.sync_api import expect

from mailer.campaigns.alerts import ALERT_ACTION, record_alert
from mailer.core.extensions import db
from mailer.delivery.dkim import generate_key
from mailer.subscriptions.lists import create_list, ensure_tracking_purposes
from tests.admin.test_deliverability_rates import _send_and_report
from tests.browser.conftest import keyboard_login
from tests.support.accessibility import accessibility_violations
from tests.support.campaigns import make_campaign

pytestmark = [
    pytest.mark.browser,
    pytest.mark.config(
        DNS_NAMESERVERS=["127.0.0.1:1"], DNS_TIMEOUT_SECONDS=0.5, MAILER_COMPLAINTS_ADDRESS="fbl@example.com"
    ),
]


def test_operator_reads_the_rates_as_charts_and_as_a_table(app, page, live_server, staff_user, worker):
    _send_and_report(worker)
    keyboard_login(page)
    page.goto("/admin/deliverability")
    section = page.get_by_role("region", name="Bounce and complaint rates, last 30 days")
    bounces = section.get_by_role("img", name="Bounce rate per day for example.com")
    expect(bounces).to_be_visible()
    expect(bounces).to_contain_text("pauses above 5 %")
    last_day = section.get_by_role("table", name="Last 24 hours: 4 messages sent")
    expect(last_day.get_by_role("row", name="Bounce rate")).to_contain_text("Within the limit")
    expect(last_day.get_by_role("row", name="Complaint rate")).to_contain_text("0.3 %")
    chart = section.get_by_role("img", name="Complaint rate per day for example.com")
    expect(chart).to_be_visible()
    expect(chart).to_contain_text("pauses above 0.3 %")
    table = section.get_by_role("table", name="Bounce and complaint rate per day for example.com")
    expect(table).to_be_hidden()
    section.get_by_text("The same figures as a table").click()
    expect(table).to_be_visible()
    expect(table.get_by_role("row").nth(1)).to_contain_text("25.00 %")
    assert accessibility_violations(page, "section[aria-labelledby=history-heading]") == []


def test_the_whole_page_with_every_section_filled_has_no_accessibility_violation(
    app, page, live_server, staff_user, worker
):
    _send_and_report(worker)
    generate_key("example.com", "s2026")
    generate_key("example.com", "s2027", activate=False)
    db.session.commit()
    keyboard_login(page)
    page.goto("/admin/deliverability")
    expect(page.locator("p", has_text="Bounce rate per day for example.com")).to_be_visible()
    expect(page.get_by_role("region", name="DKIM keys and rotation")).to_contain_text("Not signing yet")
    assert accessibility_violations(page) == []


def test_a_campaign_paused_by_the_bounce_rate_shows_its_alert_without_accessibility_violation(
    app, page, live_server, staff_user, worker
):
    ensure_tracking_purposes()
    campaign = make_campaign([create_list("News")])
    campaign.name = "Autumn"
    campaign.status = "paused"
    campaign.status_reason = (
        "Paused automatically: 9 bounce report(s) about mail from example.com in the last 24 hours against "
        "100 messages sent — a bounce rate of 9.00 %, above the 5 % limit (BOUNCE_RATE_PAUSE_THRESHOLD)."
    )
    db.session.flush()
    record_alert(campaign, ALERT_ACTION, {"kind": "rate", "domain": "example.com"})
    db.session.commit()
    worker.drain()  # the owner's alert email goes out (to the outbox)
    keyboard_login(page)
    page.goto("/admin/deliverability")
    banner = page.locator(f"[data-rate-paused='{campaign.public_id}']")
    expect(banner).to_contain_text("a bounce rate of 9.00 %, above the 5 % limit")
    expect(banner).to_contain_text("1 owner/admin alerted by email.")
    banner.get_by_role("link", name="the campaign's page").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server}/admin/campaigns/{campaign.public_id}")
    page.go_back()
    assert accessibility_violations(page, f"[data-rate-paused='{campaign.public_id}']") == []
