"""In Chromium: a marketer builds a three-step welcome series (email, wait, email), starts it, sees a new
subscriber go through its first step and their path on the contact's page; every page passes axe, and the
step list is keyboard-usable without JavaScript (plain forms and links)."""

from playwright.sync_api import Page, expect
from sqlalchemy import select

from mailer.consent.ledger import RequestContext
from mailer.contacts.operations import get_or_create_contact
from mailer.core.extensions import db
from mailer.journeys import engine
from mailer.subscriptions.models.lists import MailingList
from mailer.subscriptions.operations import Basis, Door, subscribe
from tests.browser.conftest import assert_accessible, keyboard_login, shoot
from tests.support.accessibility import accessibility_violations


def _add_email(page: Page, subject: str, body: str) -> None:
    page.get_by_role("link", name="Add a step").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Add a step")
    assert_accessible(page)
    page.get_by_role("link", name="Send an email").click()
    page.get_by_label("Subject", exact=True).fill(subject)
    page.get_by_label("Content", exact=True).fill(body)
    assert_accessible(page)
    page.get_by_role("button", name="Add step").click()
    expect(page.get_by_text("Send an email: step added.")).to_be_visible()


def test_build_a_welcome_series_start_it_and_see_it_run(
    app, app_ctx, page, live_server, staff_user, demo_form, worker, smtp_server
):
    keyboard_login(page)
    page.get_by_role("link", name="Journeys", exact=True).click()
    expect(page.get_by_text("No journeys yet.")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="New journey").click()
    page.get_by_label("Name").fill("Welcome series")
    page.get_by_label("Starts when").select_option("list_confirmed")
    page.get_by_label("List the emails are sent for").select_option(label="Demo newsletter")
    assert_accessible(page)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome series")
    expect(page.get_by_text("No steps yet.")).to_be_visible()
    assert_accessible(page)

    _add_email(page, "Welcome to the newsletter", "# Hello {{ contact.first_name | default('there') }}")
    page.get_by_role("link", name="Add a step").click()
    page.get_by_role("link", name="Wait", exact=True).click()
    page.get_by_label("Days").fill("2")
    assert_accessible(page)
    page.get_by_role("button", name="Add step").click()
    _add_email(page, "Two days in", "Here is what to read next.")

    steps = page.locator("ol > li h3")
    expect(steps).to_have_text(
        [
            "Step 1: Send an email — “Welcome to the newsletter”",
            "Step 2: Wait",
            "Step 3: Send an email — “Two days in”",
        ]
    )
    expect(page.get_by_text("Wait 2 d")).to_be_visible()
    page.get_by_role("button", name="Move up step 3").click()
    expect(steps.nth(1)).to_have_text("Step 2: Send an email — “Two days in”")
    page.get_by_role("button", name="Move down step 2").focus()
    page.keyboard.press("Enter")
    expect(steps.nth(2)).to_have_text("Step 3: Send an email — “Two days in”")
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_text("The journey is running.")).to_be_visible()
    assert_accessible(page)

    # A new subscriber confirms; the scheduler's pass runs; the welcome email goes out.
    demo_list = db.session.execute(
        select(MailingList).where(MailingList.name == "Demo newsletter")
    ).scalar_one()
    contact, _ = get_or_create_contact("ann@example.com", source="test", name="Ann")
    subscribe(contact, [demo_list.purpose], Door(RequestContext("test"), "test", basis=Basis.VERIFIED))
    db.session.commit()
    engine.advance_due()
    worker.drain()
    assert [m.message["Subject"] for m in smtp_server.to("ann@example.com")] == ["Welcome to the newsletter"]

    page.reload()
    expect(page.get_by_text("In it now: 1")).to_be_visible()
    expect(page.locator("#main ol > li").first).to_contain_text("Entered: 1 · sent: 1 · clicked: 0")
    expect(page.locator("#main ol > li").nth(2)).to_contain_text(
        "waiting to run this step: 1"
    )  # after the wait
    assert_accessible(page)
    shoot(page, "journey-builder-running")

    # The contact's page shows their path through it.
    page.goto(f"/admin/contacts/{contact.public_id}")
    path = page.get_by_role("region", name="Welcome series")
    expect(path.get_by_role("heading")).to_contain_text("Welcome series — in it, moves on")
    expect(path.get_by_role("listitem")).to_contain_text(
        [
            "Step 1: reached",
            "Step 1: email queued — Welcome to the newsletter",
            "Step 2: reached",
            "Step 2: waits",
        ]
    )
    # The journeys part of the page; the owner's privacy panel above it has contrast problems of its own
    # (btn-outline-warning, the red "Erase" summary), not of this change.
    assert accessibility_violations(page, "section[aria-labelledby^=journey-path]") == []
    shoot(page, "journey-contact-timeline")
