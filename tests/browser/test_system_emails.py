"""The confirmation email editor in Chromium: reached from the form's page with the keyboard, the Italian
tab edited while the live preview (HTML and text) follows, a web address refused on its line, saved, reset;
the page passes axe-core."""

from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_accessible, keyboard_login, shoot


def test_edit_preview_and_save_the_italian_confirmation_email(page: Page, live_server, staff_user, demo_form):
    keyboard_login(page)
    page.goto(f"/admin/forms/{demo_form.public_id}")
    link = page.get_by_role("link", name="Edit the confirmation email in Italiano")
    link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirmation email of “Demo form”")
    expect(page.get_by_role("link", name="Italiano")).to_have_attribute("aria-current", "page")
    preview = page.frame_locator("iframe[data-preview='iframe']")
    expect(preview.get_by_text("Confirm my subscription")).to_have_count(0)
    expect(preview.get_by_role("link", name="Conferma la mia iscrizione")).to_be_visible()
    assert_accessible(page)

    body = page.get_by_label("Text", exact=True)
    body.focus()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("Cara {{ name }},\nmanca solo un clic.")
    expect(preview.get_by_text("manca solo un clic.")).to_be_visible()
    expect(page.locator("[data-preview='text']")).to_contain_text("Cara Alex Esempio,")
    expect(page.locator("[data-preview='text']")).to_contain_text("Ha il diritto di opporsi")

    page.keyboard.type(" Saldi su www.shop.example")
    expect(page.locator("[data-preview='error']")).to_contain_text(
        "Text, line 2: remove the web or email address"
    )
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#body-error")).to_contain_text("Text, line 2: remove the web or email address")
    expect(body).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)
    shoot(page, "confirmation-email-refused")

    body.focus()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("Cara {{ name }},\nmanca solo un clic.")
    page.get_by_role("button", name="Save").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Confirmation email in Italiano saved.")).to_be_visible()
    expect(page.get_by_text("edited", exact=True)).to_be_visible()
    expect(preview.get_by_text("manca solo un clic.")).to_be_visible()
    assert_accessible(page)
    shoot(page, "confirmation-email-saved")

    page.get_by_role("button", name="Reset to the default wording").click()
    expect(page.get_by_text("Back to the default wording.")).to_be_visible()
    expect(body).to_have_value(
        "Buongiorno,\nLa preghiamo di confermare che desidera ricevere {{ lists }} da {{ organisation }}."
    )
