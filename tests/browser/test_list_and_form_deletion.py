"""Deleting a list and archiving then deleting a form from their pages in Chromium: the confirm pages say what
happens, the list's name must be typed (a wrong one is refused with the reason, next to the field), every page
passes axe, and the form's hosted page then answers that sign-ups are closed."""

from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_accessible, keyboard_login, shoot


def test_delete_the_demo_list_by_typing_its_name(page: Page, live_server, staff_user, demo_form):
    keyboard_login(page)
    page.get_by_role("link", name="Lists", exact=True).first.click()
    page.get_by_role("link", name="Demo newsletter").click()
    page.get_by_role("link", name="Delete", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Delete the list “Demo newsletter”?")
    expect(page.get_by_text("0 confirmed subscribers and 0 waiting to confirm")).to_be_visible()
    assert_accessible(page)
    shoot(page, "list-delete-confirm")

    field = page.get_by_label("To confirm, type the list's name")
    field.fill("Demo")
    field.press("Enter")
    expect(page.get_by_role("alert")).to_have_text("Type the list's name, “Demo newsletter”, to delete it.")
    expect(page.get_by_label("To confirm, type the list's name")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)

    page.get_by_label("To confirm, type the list's name").fill("Demo newsletter")
    page.get_by_role("button", name="Delete the list").click()
    expect(page.get_by_text("List “Demo newsletter” deleted")).to_be_visible()
    expect(page.get_by_role("link", name="Demo newsletter")).to_have_count(0)
    assert_accessible(page)
    shoot(page, "list-deleted")

    answer = page.goto("/f/demo")
    assert answer is not None and answer.status == 410
    expect(page.get_by_role("heading", name="Sign-ups are closed")).to_be_visible()


def test_archive_then_delete_a_form(page: Page, live_server, staff_user, demo_form):
    keyboard_login(page)
    page.get_by_role("link", name="Forms", exact=True).first.click()
    page.get_by_role("link", name="Demo form").click()
    page.get_by_role("link", name="Archive", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Archive the form “Demo form”?")
    assert_accessible(page)
    page.get_by_role("button", name="Archive the form").click()
    expect(page.get_by_role("status").filter(has_text="Archived on")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Forms", exact=True).first.click()
    expect(page.get_by_role("link", name="Demo form")).to_have_count(0)
    page.get_by_role("link", name="Archived forms (1)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Archived sign-up forms")
    assert_accessible(page)
    page.get_by_role("link", name="Demo form").click()

    page.get_by_role("link", name="Delete", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete the form “Demo form”?")
    assert_accessible(page)
    shoot(page, "form-delete-confirm")
    page.get_by_role("button", name="Delete the form").click()
    expect(page.get_by_text("Form “Demo form” deleted.")).to_be_visible()
    expect(page.get_by_text("No forms yet.")).to_be_visible()
    assert_accessible(page)

    answer = page.goto("/f/demo")
    assert answer is not None and answer.status == 410
    expect(page.get_by_role("heading", name="Sign-ups are closed")).to_be_visible()
    assert_accessible(page)
