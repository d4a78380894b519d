"""A fresh embedded install in Chromium: the dashboard's first-run checklist leads to Settings → Organisation,
the values typed there (no environment variable, no restart) let a test go out, and the outbox shows it."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, keyboard_login, shoot

FRESH = pytest.mark.config(
    MAILER_POSTAL_ADDRESS="", MAILER_FROM="", MAILER_ORGANISATION="", MAILER_REPLY_TO="", SEED_DEMO=True
)


@FRESH
def test_checklist_settings_test_send_and_outbox(app, page, live_server, demo_form, staff_user, worker):
    keyboard_login(page)
    nav = page.get_by_role("navigation", name="Main")
    checklist = page.locator("[data-first-run-checklist]")
    expect(checklist.get_by_role("heading", name="Getting started")).to_be_visible()
    expect(checklist).to_contain_text("2 of 6 done")  # the demo list and form
    expect(checklist.get_by_role("listitem").filter(has_text="postal address")).to_contain_text("(to do)")
    assert_accessible(page)
    shoot(page, "first-run-checklist")

    # A test before the address is set: the reason and a way to fix it sit beside the button.
    nav.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="Demo: first newsletter").click()
    page.get_by_label("Addresses").fill("me@example.com")
    page.get_by_role("button", name="Send test").click()
    problem = page.locator("[data-test-problem]")
    expect(problem).to_contain_text("No postal address is set")
    expect(problem).to_be_in_viewport()
    expect(page.locator("#test .invalid-feedback")).to_have_count(0)
    problem.get_by_role("link", name="Open the organisation settings").click()

    expect(page.get_by_role("heading", name="Organisation settings")).to_be_visible()
    page.get_by_label("Organisation name").fill("Green Grocers")
    page.get_by_label("Sender address").fill("not an address")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Enter the postal address: the law requires it")).to_be_visible()
    expect(page.get_by_label("Sender address")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)
    page.get_by_label("Postal address").fill("Green Grocers GmbH, Marktstraße 5, 10115 Berlin")
    page.get_by_label("Sender name").fill("Green Grocers News")
    page.get_by_label("Sender address").fill("news@greengrocers.example")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("Organisation settings saved.")
    expect(page.get_by_role("link", name="✉ Green Grocers")).to_be_visible()
    assert_accessible(page)
    shoot(page, "organisation-settings")

    nav.get_by_role("link", name="Dashboard").click()
    expect(checklist).to_contain_text("4 of 6 done")
    for step in ("postal address", "sender name and address"):
        expect(checklist.get_by_role("listitem").filter(has_text=step)).to_contain_text("(done)")

    # In the editor, Enter in "Preview as" previews as that address and saves nothing.
    nav.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="Demo: first newsletter").click()
    page.get_by_role("link", name="Edit").click()
    page.wait_for_load_state("load")  # the editor's script is in charge of Enter once the page has loaded
    preview_as = page.get_by_label("Preview as")
    preview_as.fill("nobody@example.com")
    preview_as.press("Enter")
    expect(page.locator('[data-preview="error"]')).to_contain_text("No contact matches that address")
    expect(page.get_by_text("Draft saved.")).to_have_count(0)
    expect(preview_as).to_have_value("nobody@example.com")

    nav.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="Demo: first newsletter").click()
    page.get_by_label("Addresses").fill("me@example.com")
    page.get_by_role("button", name="Send test").click()
    sent = page.locator("[data-test-sent]")
    expect(sent).to_contain_text("sent to me@example.com")
    expect(sent).to_be_in_viewport()  # next to the button, not scrolled off the top
    shoot(page, "test-sent-beside-the-button", full_page=False)
    worker.drain()

    nav.locator("summary", has_text="Settings").click()  # the Settings menu
    nav.get_by_role("link", name="Outbox").click()
    row = page.get_by_role("row").filter(has_text="me@example.com")
    expect(row).to_contain_text("[TEST]")
    row.get_by_role("link").click()
    frame = page.frame_locator('iframe[title="HTML part"]')
    expect(frame.get_by_text("Marktstraße 5, 10115 Berlin", exact=False)).to_be_visible()
    assert_accessible(page)
