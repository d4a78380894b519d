"""The list's re-confirmation email editor in Chromium: reached from the list's page with the keyboard, the
German tab edited while the live preview (HTML and text) follows, a web address refused on its line, saved,
reset; the page passes axe-core."""

from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_accessible, keyboard_login, shoot


def test_edit_preview_and_save_the_german_reconfirmation_email(
    page: Page, live_server, staff_user, demo_form
):
    [newsletter] = demo_form.lists
    keyboard_login(page)
    page.goto(f"/admin/lists/{newsletter.public_id}")
    link = page.get_by_role("link", name="Re-confirmation email")
    link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Re-confirmation email of “{newsletter.name}”")
    page.get_by_role("link", name="Deutsch").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Deutsch")).to_have_attribute("aria-current", "page")
    preview = page.frame_locator("iframe[data-preview='iframe']")
    expect(preview.get_by_role("link", name="Ja, ich möchte angemeldet bleiben")).to_be_visible()
    assert_accessible(page)

    body = page.get_by_label("Text", exact=True)
    body.focus()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("Hallo {{ name }},\nbleiben Sie bei {{ lists }}?")
    expect(preview.get_by_text(f"bleiben Sie bei {newsletter.name}?")).to_be_visible()
    expect(page.locator("[data-preview='text']")).to_contain_text("Hallo Alex Beispiel,")
    expect(page.locator("[data-preview='text']")).to_contain_text("Sie haben das Recht")

    page.keyboard.type(" Angebote auf www.shop.example")
    expect(page.locator("[data-preview='error']")).to_contain_text(
        "Text, line 2: remove the web or email address"
    )
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#body-error")).to_contain_text("may link only to the re-confirmation")
    expect(body).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)
    shoot(page, "reconfirmation-email-refused")

    body.focus()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("Hallo {{ name }},\nbleiben Sie bei {{ lists }}?")
    page.get_by_role("button", name="Save").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Re-confirmation email in Deutsch saved.")).to_be_visible()
    expect(page.get_by_text("edited", exact=True)).to_be_visible()
    expect(preview.get_by_text(f"bleiben Sie bei {newsletter.name}?")).to_be_visible()
    assert_accessible(page)
    shoot(page, "reconfirmation-email-saved")

    page.get_by_role("button", name="Reset to the default wording").click()
    expect(page.get_by_text("Back to the default wording.")).to_be_visible()
    expect(body).to_have_value(
        "Guten Tag,\n{{ organisation }} fragt, ob Sie Folgendes weiterhin erhalten möchten:\n{{ lists }}"
    )
