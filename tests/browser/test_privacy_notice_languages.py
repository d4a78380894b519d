"""The admin's privacy-notice page shows each language's own series (issue 16): a language switch, the current
Italian version with its words and hash, its versions; the page passes axe-core."""

from playwright.sync_api import Page, expect

from mailer.core.extensions import db
from mailer.privacy.notice import current_notice
from tests.browser.conftest import assert_accessible, keyboard_login


def test_the_notice_page_switches_to_the_italian_series(page: Page, app_ctx, live_server, staff_user):
    italian = current_notice("it")
    db.session.commit()
    keyboard_login(page)
    page.goto("/admin/settings/notice")
    expect(page.get_by_role("heading", level=2, name="Who we are and how to reach us")).to_be_visible()
    expect(page.get_by_role("link", name="English")).to_have_attribute("aria-current", "page")
    assert_accessible(page)

    page.get_by_role("link", name="Italiano").click()
    expect(page.get_by_role("link", name="Italiano")).to_have_attribute("aria-current", "page")
    text = page.locator("[data-notice-text]")
    expect(text).to_have_attribute("lang", "it")
    expect(text.get_by_role("heading", name="Chi siamo e come contattarci")).to_be_visible()
    expect(text.get_by_text("Who we are and how to reach us")).to_have_count(0)
    expect(page.locator("[data-notice-hash]")).to_have_text(italian.content_hash)
    expect(page.locator("[data-notice-versions] a")).to_have_text([f"Version {italian.version}"])
    assert_accessible(page)

    page.locator("[data-notice-versions] a").click()
    expect(page.locator("[data-notice-hash]")).to_have_text(italian.content_hash)
    expect(page.get_by_role("link", name="Italiano")).to_have_attribute("aria-current", "page")
