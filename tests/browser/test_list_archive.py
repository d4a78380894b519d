"""Archiving a list from its page in Chromium: the confirm page says what happens, both pages pass axe,
and the list's form then answers that sign-ups are closed."""

from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_accessible, keyboard_login, shoot


def test_archive_the_demo_list_from_its_page(page: Page, live_server, staff_user, demo_form):
    keyboard_login(page)
    page.get_by_role("link", name="Lists", exact=True).first.click()
    page.get_by_role("link", name="Demo newsletter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Demo newsletter")
    page.get_by_role("link", name="Archive", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Archive the list “Demo newsletter”?")
    expect(page.get_by_text("0 confirmed subscribers will no longer see it")).to_be_visible()
    expect(page.get_by_text("will stop taking sign-ups")).to_be_visible()
    assert_accessible(page)
    shoot(page, "list-archive-confirm")
    page.get_by_role("button", name="Archive the list").click()

    flash = "List “Demo newsletter” archived: it is no longer offered anywhere."
    expect(page.get_by_text(flash)).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Archived on")).to_be_visible()
    expect(page.get_by_role("link", name="Un-archive")).to_be_visible()
    assert_accessible(page)
    shoot(page, "list-archived")

    answer = page.goto("/f/demo")
    assert answer is not None and answer.status == 410
    expect(page.get_by_role("heading", name="Sign-ups are closed")).to_be_visible()
    assert_accessible(page)
