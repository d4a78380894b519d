"""The pages a subscriber sees, on a phone-sized screen:
hosted form, thanks, confirm, confirmed, broken link."""

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from mailer.core.extensions import db
from mailer.delivery.models import OutboxMessage
from mailer.subscriptions.models.lists import Subscription
from tests.browser.conftest import shoot
from tests.support.http import confirm_link

PHONE = {"width": 390, "height": 844}
LIST_BOX = "Yes, send me “Demo newsletter” by email."


def fits_the_screen(page: Page) -> None:
    """Nothing sticks out sideways: no horizontal scrolling on a phone."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide on a {PHONE['width']}px screen"


@pytest.fixture
def phone(browser, live_server):
    """A phone-sized page, with JavaScript (the normal case)."""
    context = browser.new_context(base_url=live_server, viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture
def phone_nojs(browser, live_server):
    """A phone-sized page with JavaScript off."""
    context = browser.new_context(
        base_url=live_server, viewport=PHONE, is_mobile=True, java_script_enabled=False
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_hosted_form_on_a_phone_answers_inline_and_confirms(app, phone, live_server, demo_form, worker):
    page = phone
    page.goto("/f/demo")
    expect(page.get_by_role("heading", level=1)).to_have_text("Subscribe to the demo newsletter")
    fits_the_screen(page)
    shoot(page, "mobile-form")

    page.get_by_role("button", name="Subscribe").click()  # nothing filled in: told what is missing, inline
    expect(page.get_by_role("alert")).to_have_text("Please enter your email address.")
    expect(page.get_by_role("alert")).to_have_class(re.compile(r"\balert-danger\b"))
    expect(page.get_by_label("Email address")).to_be_focused()
    expect(page.get_by_label("Email address")).to_have_attribute("aria-invalid", "true")
    shoot(page, "mobile-form-error")

    page.get_by_label("Email address").fill("cleo@example.com")
    page.get_by_label(LIST_BOX).check()
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("status")).to_contain_text("Please check your inbox")
    expect(page.get_by_role("status")).to_have_class(re.compile(r"\balert-success\b"))
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.get_by_label("Email address")).not_to_have_attribute("aria-invalid", "true")
    fits_the_screen(page)
    shoot(page, "mobile-form-success")

    worker.drain()
    message = db.session.execute(select(OutboxMessage)).scalar_one()
    page.goto(confirm_link(message.raw, live_server))
    expect(page.get_by_role("heading", name="Thank you — you're subscribed")).to_be_visible()
    fits_the_screen(page)
    shoot(page, "mobile-confirmed")
    db.session.expire_all()
    assert db.session.execute(select(Subscription.status)).scalar_one() == "confirmed"


def test_hosted_form_without_javascript_on_a_phone(app, phone_nojs, live_server, demo_form, worker):
    page = phone_nojs
    page.goto("/f/demo")
    page.get_by_label("Email address").fill("dan@example.com")
    page.get_by_label(LIST_BOX).check()
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", name="Almost done")).to_be_visible()
    fits_the_screen(page)
    shoot(page, "mobile-thanks")

    worker.drain()
    message = db.session.execute(select(OutboxMessage)).scalar_one()
    page.goto(confirm_link(message.raw, live_server))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your subscription")
    expect(page.get_by_text("You asked to receive: Demo newsletter.")).to_be_visible()
    expect(page.get_by_text("Confirming…")).to_be_hidden()
    fits_the_screen(page)
    shoot(page, "mobile-confirm")
    db.session.expire_all()
    assert (
        db.session.execute(select(Subscription.status)).scalar_one() == "pending"
    )  # opening changes nothing

    page.get_by_role("button", name="Yes, confirm my subscription").click()
    expect(page.get_by_role("heading", name="Thank you — you're subscribed")).to_be_visible()
    db.session.expire_all()
    assert db.session.execute(select(Subscription.status)).scalar_one() == "confirmed"


def test_broken_link_and_missing_pages_on_a_phone(app, phone, live_server, demo_form):
    page = phone
    response = page.goto("/confirm/not-a-real-token")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("This link doesn't work")
    fits_the_screen(page)
    shoot(page, "mobile-confirm-broken")
    page.get_by_label("Email address").fill("erin@example.com")
    page.get_by_role("button", name="Send a new link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    fits_the_screen(page)
    shoot(page, "mobile-resent")

    response = page.goto("/f/no-such-form")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    fits_the_screen(page)
    shoot(page, "mobile-404")

    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mailer Demo mailing lists")
    fits_the_screen(page)
    shoot(page, "mobile-index")
