"""An owner finds a campaign's uncertain deliveries, decides to resend them after the warning, and they arrive."""
import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from mailer.extensions import db
from mailer.models import Delivery
from mailer.services import campaigns
from tests.browser.conftest import keyboard_login, shoot
from tests.sending.factory import campaign_status, deliveries, newsletter, wait_for
from tests.support.accessibility import accessibility_violations
from tests.support.deliveries import UNCERTAIN


@pytest.mark.config(MAILER_POSTAL_ADDRESS="1 Main St, Berlin")
def test_resend_uncertain_deliveries_after_confirming(app, page, live_server, staff_user, worker, smtp_server):
    campaign, contacts = newsletter(3)
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    assert campaign_status(campaign) == "sent" and len(smtp_server.messages) == 3
    # A worker died while the relay had two of them in hand, and the relay never kept them.
    lost = [d.id for d in deliveries(campaign)][:2]
    db.session.execute(update(Delivery).where(Delivery.id.in_(lost)).values(status="uncertain", reason=UNCERTAIN))
    db.session.commit()
    lost_addresses = {c.email for c in contacts[:2]}
    smtp_server.messages.clear()

    keyboard_login(page)
    page.goto(f"/admin/campaigns/{campaign.public_id}")
    states = page.get_by_role("table").filter(has_text="Why (most common reasons)")
    uncertain_row = states.locator('tr[data-state="uncertain"]')
    expect(uncertain_row.locator("[data-state-count]")).to_have_text("2")
    expect(uncertain_row).to_contain_text("the worker stopped during the SMTP transaction ×2")
    assert accessibility_violations(page) == []
    shoot(page, "campaign-uncertain")

    page.get_by_role("link", name="List the uncertain deliveries and decide whether to resend them").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Uncertain deliveries of “Spring”")
    expect(page.get_by_text("The relay may or may not have received them: resending may deliver twice.")).to_be_visible()
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
    worker.drain()
    assert len(smtp_server.messages) == 2
