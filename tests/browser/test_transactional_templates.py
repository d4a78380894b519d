"""In Chromium: a marketer writes a transactional template with the keyboard, previews it, saves it, sends a
test with merge data and sees it in the sent log; every page passes axe-core (WCAG 2.2 AA)."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, keyboard_login
from tests.transactional.helpers import SETTINGS

BODY = "Hello {{ contact.first_name | default('there') }},\n\norder **{{ data.order_number }}** has left."


@pytest.mark.config(**SETTINGS)
def test_write_preview_save_and_test_a_transactional_template(
    app, app_ctx, page, live_server, staff_user, worker, smtp_server
):
    keyboard_login(page)
    page.get_by_role("link", name="Transactional", exact=True).click()
    expect(page.get_by_text("No transactional templates yet.")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="New template").click()
    assert_accessible(page)

    page.get_by_label("Name").fill("Order shipped")
    page.get_by_label("Key (what the API sends").fill("order-shipped")
    page.get_by_label("Subject").fill("Order {{ data.order_number }} is on its way")
    page.get_by_label("Body", exact=True).fill(BODY)
    page.get_by_label("Sample merge data").fill('{"order_number": "1001"}')
    page.get_by_role("button", name="Preview").focus()
    page.keyboard.press("Enter")
    expect(page.locator("[data-preview=subject]")).to_have_text("Order 1001 is on its way")
    frame = page.frame_locator("iframe[title='Preview of the email']")
    expect(frame.get_by_text("has left")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("button", name="Save template").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Order shipped")
    expect(page.get_by_text("Template “Order shipped” saved.")).to_be_visible()
    assert_accessible(page)

    page.get_by_label("Send a test to").fill("qa@example.net")
    page.get_by_label("Merge data (JSON)").fill('{"order_number": "7"}')
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_text("A test of “Order shipped” is on its way to qa@example.net.")).to_be_visible()
    worker.drain()
    [received] = smtp_server.to("qa@example.net")
    assert received.message["Subject"] == "[TEST] Order 7 is on its way"

    page.get_by_role("link", name="The whole sent log").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sent log")
    page.reload()
    expect(page.get_by_role("cell", name="qa@example.net")).to_be_visible()
    expect(page.get_by_role("cell", name="sent", exact=True)).to_be_visible()
    assert_accessible(page)
