"""In Chromium, with the keyboard: an owner adds a webhook endpoint, copies its secret, sends a test event
that a real receiver verifies, reads the delivery log and rotates the secret; every page passes axe."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_accessible, keyboard_login
from tests.support.receiver import Receiver
from tests.webhooks.helpers import SETTINGS, deliver, verified

pytestmark = [pytest.mark.browser, pytest.mark.config(**SETTINGS)]


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def test_add_an_endpoint_test_it_and_read_its_log(
    app, app_ctx, page: Page, live_server, staff_user, worker, receiver
):
    keyboard_login(page)
    page.get_by_text("Settings", exact=True).click()  # the Settings menu of the navigation
    page.get_by_role("link", name="Webhooks", exact=True).click()
    expect(page.get_by_text("No endpoints yet.")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Add an endpoint").click()
    page.get_by_label("Endpoint URL").fill("http://10.0.0.5/hook")
    page.get_by_label("Subscription confirmed", exact=True).check()
    page.get_by_role("button", name="Save endpoint").click()
    expect(page.get_by_text("private or reserved address (10.0.0.5)")).to_be_visible()
    assert_accessible(page)

    page.get_by_label("Endpoint URL").fill(receiver.url("/hook"))
    page.get_by_label("Description").fill("CRM sync")
    page.get_by_label("Contact erased (ids only, always)").focus()
    page.keyboard.press("Space")  # a checkbox ticked with the keyboard
    page.get_by_role("button", name="Save endpoint").click()
    expect(page.get_by_text("Endpoint added. Copy its signing secret below.")).to_be_visible()
    secret = page.get_by_label("Verify each request with this secret").input_value()
    assert secret.startswith("whsec_")
    assert_accessible(page)

    page.get_by_role("button", name="Send test event").click()
    expect(page.get_by_text("Test event queued.")).to_be_visible()
    deliver(worker)
    [request] = receiver.wait_for(1)
    assert verified(request, secret)["type"] == "webhook.test"
    page.reload()
    expect(page.get_by_role("cell", name="HTTP 200")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="webhook.test").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("webhook.test")
    expect(page.get_by_role("cell", name="ok")).to_be_visible()  # the start of the receiver's answer
    assert_accessible(page)
    page.get_by_role("link", name="Endpoint", exact=True).click()

    page.get_by_role("button", name="Rotate secret").click()
    expect(page.get_by_text("The previous secret also signs until")).to_be_visible()
    assert page.get_by_label("Verify each request with this secret").input_value() != secret
    assert_accessible(page)

    page.get_by_role("navigation", name="breadcrumb").get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("cell", name="healthy: 1 delivered, 0 failed, 0 waiting")).to_be_visible()
    assert_accessible(page)
