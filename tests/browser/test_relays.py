"""The SMTP relays page in a real browser: an owner adds a relay, the password never comes back, the page and
the campaign editor's relay choice pass axe."""

from playwright.sync_api import Page, expect
from sqlalchemy import select

from mailer.core.extensions import db
from mailer.delivery.relays import Relay
from tests.browser.conftest import LinkChecker, assert_accessible, keyboard_login, shoot
from tests.support.accessibility import accessibility_violations

PASSWORD = "n0t-shown-again-7Q"


def test_owner_adds_a_relay_and_a_campaign_can_choose_it(page: Page, live_server, staff_user, demo_form):
    keyboard_login(page)
    links = LinkChecker(page, live_server)
    nav = page.get_by_role("navigation", name="Main")
    nav.locator("summary", has_text="Settings").click()  # the Settings menu
    nav.get_by_role("link", name="SMTP relays").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("SMTP relays")
    expect(page.get_by_text("No named relays yet")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Add a relay").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New relay")
    page.get_by_label("Name", exact=True).fill("backup relay")
    page.get_by_label("Host", exact=True).fill("smtp.backup.example")
    page.get_by_label("Connection security").select_option("starttls")
    page.get_by_label("User name (empty: no login)").fill("mailer")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Save relay").click()
    # A name with a space is refused with a message beside the field; the typed password is not sent back.
    expect(page.get_by_text("Use 1–63 lower-case letters")).to_be_visible()
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    assert PASSWORD not in page.content()
    assert_accessible(page)
    page.get_by_label("Name", exact=True).fill("backup")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Save relay").click()

    expect(page.get_by_text("Relay “backup” saved.")).to_be_visible()
    row = page.get_by_role("row", name="backup")
    expect(row).to_contain_text("smtp.backup.example:587")
    expect(row).to_contain_text("mailer · password set")
    assert PASSWORD not in page.content()
    assert links.check() == []
    assert_accessible(page)
    shoot(page, "admin-relays")
    assert db.session.execute(select(Relay)).scalar_one().password() == PASSWORD

    page.goto("/admin/campaigns/new")
    relay_choice = page.get_by_label("Send through")
    expect(relay_choice).to_have_value("")
    relay_choice.select_option(label="backup (smtp.backup.example)")
    expect(page.get_by_label("If that relay is down, fail over to")).to_contain_text("No failover")
    # The editor's relay section (the rest of the editor is the campaign editor's own browser test).
    assert accessibility_violations(page, context="section[aria-labelledby='h-relay']") == []
