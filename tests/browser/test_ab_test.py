"""A marketer sets up an A/B test, sends it, and after seeded clicks sees the winner chosen and each variant's
figures; the pages pass axe-core."""

import html as html_lib
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from mailer.campaigns import ab_testing
from mailer.campaigns.models import AbTest
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.subscriptions.lists import create_list, ensure_tracking_purposes
from mailer.tracking import events as tracking
from tests.browser.conftest import keyboard_login, shoot
from tests.support.accessibility import accessibility_violations
from tests.support.campaigns import campaign_status, deliveries, make_campaign, subscriber, wait_for

CLICK_URL = re.compile(r"""https?://[^\s"'<>]+/t/c/[^\s"'<>]+""")
UA = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}


@pytest.mark.config(MAILER_POSTAL_ADDRESS="1 Main St, Berlin", TRACKING_MACHINE_SECONDS=0)
def test_ab_test_end_to_end_with_seeded_clicks_choosing_the_winner(
    app, page, live_server, staff_user, worker, smtp_server
):
    ensure_tracking_purposes()
    news = create_list("News")
    for i in range(20):
        subscriber(news, f"p{i}@example.net", f"P{i} Test", tracking=("tracking:open", "tracking:click"))
    campaign = make_campaign([news], track_opens=True, track_clicks=True, from_email="news@example.org")
    db.session.commit()

    keyboard_login(page)
    page.goto(f"/admin/campaigns/{campaign.public_id}")
    page.get_by_role("link", name="A/B test", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("A/B test")
    page.get_by_label("Run this campaign as an A/B test").check()
    page.get_by_label("Test share (% of the audience)").fill("50")
    page.get_by_label("Wait before choosing the winner (minutes)").fill("1")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("alert")).to_contain_text("between 10 minutes and 7 days")  # words, never a 500
    page.get_by_label("Wait before choosing the winner (minutes)").fill("60")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("A/B test saved.")).to_be_visible()

    page.get_by_role("button", name="Add variant C").click()
    expect(page.get_by_role("heading", name="Variant C")).to_be_visible()
    page.get_by_role("button", name="Remove variant C").click()
    expect(page.get_by_role("heading", name="Variant C")).to_have_count(0)
    variant_b = page.locator("#variant-B")
    variant_b.get_by_label("Subject", exact=True).fill("Last chance, {{ contact.first_name }}")
    variant_b.get_by_label("Sender name").fill("The Shop")
    variant_b.get_by_label("Content", exact=True).fill(
        "# Only today\n\n[Shop now](https://shop.example.org/sale)"
    )
    variant_b.get_by_role("button", name="Save variant B").click()
    expect(page.get_by_text("Variant B saved.")).to_be_visible()
    assert accessibility_violations(page) == []
    shoot(page, "ab-test-editor")

    page.get_by_role("link", name="Back to the campaign").click()
    expect(page.locator("#ab-test")).to_contain_text("50 % of the audience, split evenly across 2 variants")
    page.get_by_role("link", name="Send now…").click()
    expect(page.locator("#confirm-ab-test")).to_contain_text(
        "2 variants go to a random 50 % of the recipients"
    )
    page.get_by_role("button", name="Send to 20 recipients now").click()
    worker.drain()
    wait_for(lambda: len(smtp_server.messages) == 10, what="the test share at the relay")

    # Seeded clicks: three of variant B's recipients click, one of variant A's.
    rows = deliveries(campaign)
    mail = {m.rcpt_tos[0]: m.message for m in smtp_server.messages}
    client = app.test_client()
    base = app.config["MAILER_BASE_URL"]
    clickers = [d for d in rows if d.variant == 1][:3] + [d for d in rows if d.variant == 0][:1]
    for delivery in clickers:
        html = mail[delivery.contact.email].get_body(("html",)).get_content()
        url = html_lib.unescape(CLICK_URL.findall(html)[0])
        assert client.get(url[len(base) :], headers=UA).status_code == 302
    tracking.flush_events()

    page.goto(f"/admin/campaigns/{campaign.public_id}")
    expect(page.locator("#ab-waiting")).to_contain_text("The winner is chosen by clicks at")
    expect(page.locator('#ab-stats tr[data-variant="B"] [data-clicks]')).to_have_text("3 of 5")
    assert accessibility_violations(page) == []

    # The wait is over: the scheduler's job chooses the winner and the rest gets it.
    db.session.execute(update(AbTest).where(AbTest.campaign_id == campaign.id).values(decide_at=utcnow()))
    db.session.commit()
    assert ab_testing.decide_due_tests() == 1
    worker.drain()
    assert campaign_status(campaign) == "sent" and len(smtp_server.messages) == 20

    page.reload()
    expect(page.locator("#ab-winner")).to_contain_text("Winner: Variant B")
    expect(page.locator("#ab-winner")).to_contain_text("chosen automatically")
    expect(page.locator("#ab-warning")).to_contain_text("Too small to decide")
    expect(page.locator('#ab-stats tr[data-variant="B"]')).to_contain_text("Winner")
    expect(page.locator('#ab-stats tr[data-variant="A"] [data-clicks]')).to_have_text("1 of 5")
    expect(page.locator('#ab-stats tr[data-variant="B"] [data-rate]')).to_have_text("60.0 %")
    assert accessibility_violations(page) == []
    shoot(page, "ab-test-results")
    rest = [m.message for m in smtp_server.messages if m.rcpt_tos[0] not in {d.contact.email for d in rows}]
    assert (
        len(rest) == 10
        and {m["Subject"] for m in rest} == {f"Last chance, {m['To'].split()[0]}" for m in rest}
        and all(m["From"].startswith("The Shop <") for m in rest)
    )
