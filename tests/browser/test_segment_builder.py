"""In Chromium: define a choice field, give a contact a value, build a segment with the live count, send a
campaign to the segment; the mail arrives at the SMTP server only for the matching contact."""

from playwright.sync_api import expect
from sqlalchemy import select

from mailer.contacts import fields as field_service
from mailer.core.extensions import db
from mailer.segments.models import Segment
from mailer.subscriptions.models.lists import MailingList
from tests.browser.conftest import assert_accessible, keyboard_login, shoot
from tests.support.campaigns import subscriber


def test_build_a_segment_from_a_custom_field_and_send_a_campaign_to_it(
    app, app_ctx, page, live_server, demo_form, staff_user, worker, smtp_server
):
    demo_list = db.session.execute(select(MailingList)).scalars().first()
    ann = subscriber(demo_list, "ann@example.com", "Ann")
    subscriber(demo_list, "bob@example.com", "Bob")
    db.session.commit()
    keyboard_login(page)

    # A single-choice field, defined on the fields page.
    page.goto("/admin/settings/fields")
    page.get_by_label("Label").fill("Plan")
    page.get_by_label("Key").fill("plan")
    page.get_by_label("Type of value").select_option("single_choice")
    page.get_by_label("Choices (for a single- or multiple-choice field: one per line)").fill("Free\nPro")
    page.get_by_role("button", name="Add the field").click()
    expect(page.get_by_text("Field “Plan” created.")).to_be_visible()
    plan = field_service.field_by_key("plan")
    field_service.set_value(ann, plan, "Pro")  # Ann's answer, as her sign-up form would store it
    db.session.commit()

    # The builder: choose the field, the operator and the value; the count follows.
    page.get_by_role("link", name="Segments", exact=True).click()
    page.get_by_role("link", name="New segment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New segment")
    assert_accessible(page)
    page.get_by_label("Name").fill("Pro customers")
    page.get_by_label("Field of condition 1 in group 1").select_option("field:plan")
    page.get_by_label("Operator of condition 1 in group 1").select_option("is")
    page.get_by_label("Value of condition 1 in group 1").select_option("Pro")
    count = page.locator("#segment-count [data-field='count']")
    expect(count).to_have_text("1 contact matches")
    page.get_by_label("Value of condition 1 in group 1").select_option("Free")
    expect(count).to_have_text("0 contacts match")
    page.get_by_label("Value of condition 1 in group 1").select_option("Pro")
    expect(count).to_have_text("1 contact matches")
    # Rows are added and removed in place, with the keyboard.
    page.get_by_role("button", name="Add a condition").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Field of condition 1 in group 1").nth(1)).to_be_focused()
    expect(page.locator("[data-row]")).to_have_count(2)
    page.locator("[data-row]").nth(1).get_by_role("button", name="Remove").click()
    expect(page.locator("[data-row]")).to_have_count(1)
    expect(page.locator("option[value='field:health']")).to_have_count(0)
    assert_accessible(page)
    shoot(page, "segment-builder")
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_text("Segment “Pro customers” saved.")).to_be_visible()
    expect(count).to_have_text("1 contact matches")
    assert db.session.execute(select(Segment.name)).scalar_one() == "Pro customers"

    # A campaign to the segment only.
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="Write your first campaign").click()
    page.get_by_label("Campaign name").fill("Pro news")
    page.get_by_label("Subject", exact=True).fill("News for Pro customers")
    page.get_by_label("Pro customers").check()
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    page.get_by_role("button", name="Count recipients").click()
    expect(page.get_by_test_id("recipients")).to_have_text("1")
    page.get_by_role("link", name="Send now…").click()
    page.get_by_role("button", name="Send to 1 recipient now").click()
    expect(page.get_by_text("Sending has started.")).to_be_visible()
    worker.drain()
    received = [m for m in smtp_server.messages if m.message["Subject"] == "News for Pro customers"]
    assert [r for m in received for r in m.rcpt_tos] == ["ann@example.com"]


def test_a_field_chosen_before_the_builder_script_ran_gets_its_operators(
    app_ctx, page, live_server, demo_form, staff_user
):
    """On a slow page a person can choose a field before segments.js has run (its change event then reaches
    no listener), and the browser puts chosen values back on Back: the script draws what the field needs
    once it runs, and counts."""
    demo_list = db.session.execute(select(MailingList)).scalars().first()
    subscriber(demo_list, "ann@example.com", "Ann")
    db.session.commit()
    keyboard_login(page)
    held = []
    page.route("**/static/segments.js", lambda route: held.append(route))
    page.goto("/admin/segments/new", wait_until="commit")  # the page waits for the script: no more
    page.get_by_label("Field of condition 1 in group 1").select_option(label="Contact status")
    operator = page.get_by_label("Operator of condition 1 in group 1")
    expect(operator).to_have_text("—")  # drawn by the server for no field; no script to follow the choice
    assert len(held) == 1
    held[0].continue_()
    expect(operator).to_contain_text("is not")
    page.get_by_label("Value of condition 1 in group 1").select_option(label="active")
    expect(page.locator("#segment-count [data-field='count']")).to_have_text("1 contact matches")
