"""The preference centre and unsubscribe page in Chromium:
phone width, keyboard only, and without JavaScript."""

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from mailer.consent.models import ConsentEvent
from mailer.contacts.models.suppression import Suppression
from mailer.core.extensions import db
from mailer.subscriptions.models.lists import Subscription
from tests.browser.conftest import shoot
from tests.public.recipients import (
    news_list,
    preferences_path,
    sent_campaign,
    subscribed_contact,
    tracking_purposes,
    unsubscribe_path,
)

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def ann(app, app_ctx):
    news, offers = news_list("News"), news_list("Offers")
    tracking_purposes()
    contact = subscribed_contact("ann@example.com", [news], tracking=("open",), name="Ann")
    campaign = sent_campaign(news, [contact]).campaign
    return {"contact": contact, "news": news, "offers": offers, "campaign": campaign}


def tab_to(page: Page, locator, limit: int = 40) -> None:
    """Press Tab until the element has focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if locator.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError("could not reach the element with Tab")


def fits_the_screen(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_preference_centre_on_a_phone_with_the_keyboard(app, page, ann):
    page.set_viewport_size(PHONE)
    page.goto(preferences_path(app, ann["contact"]))
    expect(page.get_by_role("heading", name="Your email preferences")).to_be_visible()
    expect(page.get_by_text(app.config["MAILER_ORGANISATION"]).first).to_be_visible()
    offers = page.get_by_label("Yes, send me “Offers” by email.")
    clicks = page.get_by_label("Yes, you may record which links I click in your emails.")
    expect(offers).not_to_be_checked()
    expect(clicks).not_to_be_checked()
    expect(page.get_by_label("Yes, send me “News” by email.")).to_be_checked()
    assert fits_the_screen(page)
    shoot(page, "preferences-phone")

    tab_to(page, offers)
    page.keyboard.press("Space")
    tab_to(page, page.get_by_role("button", name="Save my choices"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").first).to_contain_text("You're now subscribed to or agreed to: Offers")
    expect(page.get_by_label("Yes, send me “Offers” by email.")).to_be_checked()
    assert fits_the_screen(page)
    db.session.expire_all()
    event = db.session.execute(select(ConsentEvent).where(ConsentEvent.action == "granted")).scalar_one()
    assert event.source == "preference-centre" and event.purpose_id == ann["offers"].purpose.id

    # Withdrawing is the same one step: untick, save.
    tab_to(page, page.get_by_label("Yes, send me “Offers” by email."))
    page.keyboard.press("Space")
    page.get_by_role("button", name="Save my choices").press("Enter")
    expect(page.get_by_role("status").first).to_contain_text("Stopped: Offers")


def test_unsubscribe_page_without_javascript(app, nojs_page, ann):
    page = nojs_page
    page.set_viewport_size(PHONE)
    page.goto(unsubscribe_path(app, ann["contact"], ann["news"], ann["campaign"]))
    expect(page.get_by_role("heading", name="Unsubscribe from “News”")).to_be_visible()
    expect(page.get_by_role("link", name="Open your email preferences")).to_be_visible()
    db.session.expire_all()
    assert db.session.execute(select(Subscription.status)).scalars().all() == [
        "confirmed"
    ]  # the visit changed nothing
    assert fits_the_screen(page)
    shoot(page, "unsubscribe-phone")
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", name="You're unsubscribed")).to_be_visible()
    db.session.expire_all()
    assert db.session.execute(select(Subscription.status)).scalars().all() == ["unsubscribed"]
    page.get_by_role("link", name="Open your email preferences").click()
    expect(page.get_by_label("Yes, send me “News” by email.")).not_to_be_checked()


def test_unsubscribe_from_everything_without_javascript(app, nojs_page, ann):
    page = nojs_page
    page.goto(preferences_path(app, ann["contact"]))
    page.get_by_role("button", name="Unsubscribe from everything").click()
    expect(page.get_by_role("status").first).to_contain_text("unsubscribed from everything")
    db.session.expire_all()
    assert db.session.execute(select(Suppression)).first() is not None
    for box in page.get_by_role("checkbox").all():
        expect(box).not_to_be_checked()


def test_request_a_fresh_link_with_the_keyboard(app, page, ann):
    page.set_viewport_size(PHONE)
    page.goto("/p")
    tab_to(page, page.get_by_label("Email address"))
    page.keyboard.type("someone@example.com")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    page.goto("/p")
    page.get_by_label("Email address").fill("not an address")
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("alert")).to_contain_text("doesn't look like an email address")


@pytest.mark.config(TRACKING_MACHINE_SECONDS=0)
def test_stats_page_draws_its_chart_and_reads_without_javascript(app, page, nojs_page, ann, staff_user):
    """The marketer's view of what the preference centre and
    tracking produce: chart with JS, table without."""
    from tests.browser.conftest import keyboard_login
    from tests.public.recipients import open_path

    client = app.test_client()
    contact = ann["contact"]
    campaign = sent_campaign(
        ann["news"], [contact], sent_minutes_ago=0, name="Just sent"
    ).campaign  # after consent
    assert (
        client.get(
            open_path(app, contact, campaign), headers={"User-Agent": "Mozilla/5.0 (X11) Firefox/128.0"}
        ).status_code
        == 200
    )
    from mailer.tracking.buffer import buffer_for

    buffer_for(app).flush()
    keyboard_login(page)
    page.goto(f"/admin/campaigns/{campaign.public_id}/stats")
    expect(page.get_by_role("heading", name=campaign.name, level=1)).to_be_visible()
    expect(page.locator("#engagement")).to_contain_text("1 of 1")
    drawn = page.locator("canvas[data-chart]").evaluate("canvas => Chart.getChart(canvas) !== undefined")
    assert drawn
    shoot(page, "campaign-stats")
    page.get_by_role("link", name="Stats", exact=True).first.click()
    expect(page.get_by_role("heading", name="Stats", level=1)).to_be_visible()
    page.goto(f"/admin/lists/{ann['news'].public_id}/stats")
    expect(page.locator("#coverage")).to_contain_text("Open tracking")
    assert page.locator("canvas[data-chart]").evaluate("canvas => Chart.getChart(canvas) !== undefined")

    # Without JavaScript the same numbers are a table.
    keyboard_login(nojs_page)
    nojs_page.goto(f"/admin/campaigns/{campaign.public_id}/stats")
    expect(nojs_page.get_by_role("table").filter(has_text="Hour (UTC)")).to_contain_text("Opens")
