"""The admin navigation fits one row on a laptop (1366 and 1280 px) with the settings pages under a Settings
menu that works with the keyboard and without JavaScript; public pages never scroll sideways on a phone, and
admin tables scroll inside a labelled region a keyboard can reach."""

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from mailer.core.extensions import db
from mailer.core.urls import preferences_url, unsubscribe_url
from mailer.subscriptions.models.lists import MailingList
from tests.browser.conftest import keyboard_login
from tests.support.privacy import sign_up_and_confirm

SETTINGS = [
    "Organisation and brand",
    "Contact fields",
    "Privacy settings",
    "Staff",
    "SMTP relays",
    "API keys",
]


def _middles(page: Page) -> list[float]:
    """The vertical middles of the main navigation's top-level entries (one row: all within a few pixels; a
    second row would be a whole line, 30 px or more, lower)."""
    return page.locator("#nav > ul > li, #nav > a, #nav > form").evaluate_all(
        "items => items.map(i => i.getBoundingClientRect().top + i.getBoundingClientRect().height / 2)"
    )


@pytest.mark.parametrize("width", [1366, 1280])
def test_the_navigation_is_one_row_on_a_laptop(page: Page, live_server, staff_user, width):
    page.set_viewport_size({"width": width, "height": 768})
    keyboard_login(page)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Campaigns")).to_be_visible()
    middles = _middles(page)
    assert len(middles) >= 10 and max(middles) - min(middles) < 8, middles
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    # The settings pages sit under one Settings menu, closed until asked for.
    for label in SETTINGS:
        expect(nav.get_by_role("link", name=label, exact=True)).to_be_hidden()


def test_the_settings_menu_with_the_keyboard(page: Page, live_server, staff_user):
    page.set_viewport_size({"width": 1366, "height": 768})
    keyboard_login(page)
    nav = page.get_by_role("navigation", name="Main")
    summary = nav.locator("summary", has_text="Settings")
    summary.focus()
    page.keyboard.press("Enter")
    for label in SETTINGS:
        expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
    page.keyboard.press("Escape")  # closes, focus back on the menu's button
    expect(nav.get_by_role("link", name="Staff", exact=True)).to_be_hidden()
    expect(summary).to_be_focused()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    expect(nav.get_by_role("link", name="Organisation and brand")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Contact fields")
    expect(nav.locator("summary", has_text="Settings")).to_have_class("nav-link active")
    nav.locator("summary", has_text="Settings").click()
    expect(nav.get_by_role("link", name="Contact fields")).to_have_attribute("aria-current", "page")
    page.get_by_role("heading", level=1).click()  # a click elsewhere closes it
    expect(nav.get_by_role("link", name="Contact fields")).to_be_hidden()


def test_the_settings_menu_without_javascript(browser, page: Page, live_server, staff_user):
    keyboard_login(page)  # signed in with JavaScript (the second factor needs it); the same session without
    context = browser.new_context(
        base_url=live_server, storage_state=page.context.storage_state(), java_script_enabled=False
    )
    nojs = context.new_page()
    nojs.set_viewport_size({"width": 1366, "height": 768})
    nojs.goto("/admin/")
    nav = nojs.get_by_role("navigation", name="Main")
    nav.locator("summary", has_text="Settings").click()
    nav.get_by_role("link", name="Staff", exact=True).click()
    expect(nojs.get_by_role("heading", level=1)).to_have_text("Staff accounts")
    context.close()


def test_public_pages_do_not_scroll_sideways_on_a_phone(app, browser, live_server, demo_form, worker):
    client = app.test_client()
    ann = sign_up_and_confirm(
        app, client, worker, "ann@example.com", "Ann Example", ip="192.0.2.1", user_agent="UA/1",
        confirm_ip="192.0.2.1", confirm_user_agent="UA/1",
    )  # fmt: skip
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    page = context.new_page()
    news = db.session.execute(select(MailingList).order_by(MailingList.id)).scalars().first()
    paths = [
        "/f/demo",
        "/p",
        "/privacy",
        "/confirm/resent",
        preferences_url(ann.public_id),
        unsubscribe_url(ann.public_id, news.public_id, None),
        f"{preferences_url(ann.public_id)}/privacy/erasure",
        "/no-such-page",
    ]
    for path in paths:
        page.goto(path)
        wide = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert wide[0] <= wide[1], f"{path} scrolls sideways at 390 px: {wide}"
    context.close()
