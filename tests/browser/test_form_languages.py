"""A form's wording per language in Chromium: the form page lists each language's state and current
version, the language page is reached and filled with the keyboard, saving publishes a new Italian version,
and an Italian visitor sees it. The pages pass axe-core."""

from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_accessible, keyboard_login, shoot


def test_write_the_italian_wording_with_the_keyboard(page: Page, browser, live_server, staff_user, demo_form):
    keyboard_login(page)
    page.goto(f"/admin/forms/{demo_form.public_id}")
    languages = page.get_by_role("table").filter(has_text="Current version")
    expect(languages.get_by_role("row", name="Italiano")).to_contain_text("published")
    expect(languages.get_by_role("row", name="Italiano")).to_contain_text("v1")
    assert_accessible(page)
    shoot(page, "form-languages")

    edit = page.get_by_role("link", name="Edit the Italiano wording")
    edit.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("“Demo form” in Italiano")
    heading = page.get_by_label("Heading")
    expect(heading).to_have_value("Iscriviti alla newsletter dimostrativa")
    expect(page.get_by_label("Demo newsletter")).to_have_attribute(
        "placeholder", "Sì, inviatemi “Demo newsletter” via email."
    )
    assert_accessible(page)
    shoot(page, "form-language-it")
    heading.focus()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("La newsletter di prova")
    page.keyboard.press("Enter")  # submits the form from a text input

    expect(page.get_by_text("Italiano wording published (wording version 2).")).to_be_visible()
    expect(languages.get_by_role("row", name="Italiano")).to_contain_text("v2")
    assert_accessible(page)

    visitor = browser.new_context(base_url=live_server, locale="it-IT")
    try:
        italian = visitor.new_page()
        italian.goto("/f/demo")
        expect(italian.get_by_role("heading", level=1)).to_have_text("La newsletter di prova")
        expect(italian.get_by_role("button", name="Iscriviti")).to_be_visible()
        assert_accessible(italian)
    finally:
        visitor.close()
