"""An owner finds a campaign's uncertain deliveries, decides to resend them after the warning, and they
arrive; without JavaScript the page still shows every state and the wait, and the resend still works."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns.models import Campaign
from mailer.core.extensions import db
from mailer.delivery.models import Delivery
from tests.browser.conftest import keyboard_login, shoot
from tests.support.accessibility import accessibility_violations
from tests.support.campaigns import campaign_status, deliveries, newsletter, wait_for
from tests.support.deliveries import UNCERTAIN, seed


@pytest.mark.config(MAILER_POSTAL_ADDRESS="1 Main St, Berlin")
def test_resend_uncertain_deliveries_after_confirming(
    app, page, live_server, staff_user, worker, smtp_server
):
    campaign, contacts = newsletter(3)
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    assert campaign_status(campaign) == "sent" and len(smtp_server.messages) == 3
    # A worker died while the relay had two of them in hand, and the relay never kept them.
    lost = [d.id for d in deliveries(campaign)][:2]
    db.session.execute(
        update(Delivery).where(Delivery.id.in_(lost)).values(status="uncertain", reason=UNCERTAIN)
    )
    db.session.commit()
    lost_addresses = {c.email for c in contacts[:2]}
    smtp_server.messages.clear()

    keyboard_login(page)
    page.goto(f"/admin/campaigns/{campaign.public_id}")
    states = page.get_by_role("table").filter(has_text="Why (most common reasons)")
    uncertain_row = states.locator('tr[data-state="uncertain"]')
    expect(uncertain_row.locator("[data-state-count]")).to_have_text("2")
    expect(uncertain_row).to_contain_text("the worker stopped during the SMTP transaction ×2")
    chart = page.get_by_role("img", name="Bar chart of the deliveries in each state")
    expect(chart).to_be_visible()
    assert page.evaluate(
        "Chart.getChart(document.querySelector('canvas[data-state-chart]')).data.datasets[0].data"
    ) == [0, 0, 1, 0, 0, 0, 2]
    assert accessibility_violations(page) == []
    shoot(page, "campaign-uncertain")

    page.get_by_role("link", name="List the uncertain deliveries and decide whether to resend them").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Uncertain deliveries of “Spring”")
    expect(
        page.get_by_text("The relay may or may not have received them: resending may deliver twice.")
    ).to_be_visible()
    expect(page.get_by_role("table", name="Uncertain deliveries").locator("tbody tr")).to_have_count(2)
    assert "@" not in page.get_by_role("table", name="Uncertain deliveries").inner_text()
    assert accessibility_violations(page) == []

    page.get_by_role("link", name="Resend all 2…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Resend 2 uncertain deliveries?")
    assert accessibility_violations(page) == []
    shoot(page, "campaign-uncertain-confirm")
    assert not smtp_server.messages  # nothing happens before the decision
    page.get_by_role("button", name="Yes, resend 2 deliveries").click()

    expect(page.get_by_text("2 uncertain deliveries queued to be sent again.")).to_be_visible()
    wait_for(lambda: len(smtp_server.messages) >= 2, what="the resent messages at the relay")
    assert sorted(rcpt for m in smtp_server.messages for rcpt in m.rcpt_tos) == sorted(lost_addresses)
    # The live progress notices the campaign finished again, without a reload.
    expect(page.locator("#campaign-status")).to_have_text("sent", timeout=20_000)
    expect(uncertain_row.locator("[data-state-count]")).to_have_text("0")
    expect(states.locator('tr[data-state="sent"] [data-state-count]')).to_have_text("3")
    assert page.evaluate(
        "Chart.getChart(document.querySelector('canvas[data-state-chart]')).data.datasets[0].data"
    ) == [0, 0, 3, 0, 0, 0, 0]  # the chart follows the table
    worker.drain()
    assert len(smtp_server.messages) == 2


def test_states_wait_and_resend_work_without_javascript(nojs_page, staff_user):
    page = nojs_page
    campaign, _ = seed()
    row = db.session.get(Campaign, campaign.id)
    row.waiting_reason = "Waiting for the relay: connection refused. Next try at 14:05:00 UTC."
    db.session.commit()
    keyboard_login(page)  # the owner's second factor too: it works without JavaScript

    page.goto(f"/admin/campaigns/{campaign.public_id}")
    expect(
        page.get_by_role("status").filter(
            has_text="Waiting for the relay: connection refused. Next try at 14:05:00 UTC."
        )
    ).to_be_visible()
    expect(page.get_by_role("progressbar", name="Deliveries finished")).to_be_visible()
    states = page.get_by_role("table").filter(has_text="Why (most common reasons)")
    expect(states.locator('tr[data-state="queued"]')).to_contain_text(
        "will retry at … UTC: 451 4.3.0 Mailbox temporarily unavailable ×3"
    )
    expect(page.get_by_role("link", name="Refresh")).to_be_visible()

    page.get_by_role("link", name="List the uncertain deliveries and decide whether to resend them").click()
    page.get_by_role("checkbox").first.check()
    page.get_by_role("button", name="Resend the chosen deliveries…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Resend 1 uncertain delivery?")
    page.get_by_role("button", name="Yes, resend 1 delivery").click()
    expect(page.get_by_text("1 uncertain delivery queued to be sent again.")).to_be_visible()
    expect(states.locator('tr[data-state="uncertain"] [data-state-count]')).to_have_text("3")


def test_the_wait_for_the_relay_appears_and_goes_live(page, staff_user):
    campaign, _ = seed()
    keyboard_login(page)
    page.goto(f"/admin/campaigns/{campaign.public_id}")
    wait_box = page.locator("[data-relay-wait]")
    expect(wait_box).to_be_hidden()
    row = db.session.get(Campaign, campaign.id)
    row.waiting_reason = "Waiting for the relay: connection refused. Next try at 14:05:00 UTC."
    db.session.commit()
    expect(wait_box).to_be_visible()
    expect(wait_box).to_contain_text("Waiting for the relay: connection refused. Next try at 14:05:00 UTC.")
    assert accessibility_violations(page) == []
    shoot(page, "campaign-waiting-for-relay")
    db.session.get(Campaign, campaign.id).waiting_reason = ""
    db.session.commit()
    expect(wait_box).to_be_hidden()
