"""The hosted form with a field of every type, in Chromium: each control is reachable by its label, the page
passes axe, and a sign-up with them goes through."""

from playwright.sync_api import expect

from mailer.contacts import fields as field_service
from mailer.core.extensions import db
from tests.browser.conftest import assert_accessible, shoot
from tests.support.privacy import ask_on_form
from tests.support.signup import contact_by_email


def test_fill_every_kind_of_field_on_the_hosted_form(app, page, live_server, demo_form):
    for key, label, kind, choices in (
        ("plan", "Plan", "single_choice", "Free\nPro"),
        ("topics", "Topics", "multiple_choice", "News\nEvents"),
        ("member", "Already a member", "yes_no", None),
        ("visits", "Visits per year", "number", None),
        ("birth", "Birthday", "date", None),
    ):
        custom = field_service.define_field(key, label, "ordinary", value_type=kind, choices=choices)
        db.session.commit()
        ask_on_form(demo_form, custom)

    page.goto("/f/demo")
    assert_accessible(page)
    page.get_by_label("Email address").fill("lea@example.com")
    page.get_by_label("Plan").select_option("Pro")
    page.get_by_role("group", name="Topics").get_by_label("Events").check()
    page.get_by_role("checkbox", name="Already a member").check()
    page.get_by_label("Visits per year").fill("4")
    page.get_by_label("Birthday").fill("1991-02-03")
    page.get_by_label("Yes, send me “Demo newsletter” by email.").check()
    shoot(page, "form-field-controls")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_text("Please check your inbox")).to_be_visible()
    assert_accessible(page)

    stored = {c.key: v for c, v in field_service.values_for(contact_by_email("lea@example.com"))}
    assert stored == {
        "plan": "Pro",
        "topics": "Events",
        "member": "yes",
        "visits": "4",
        "birth": "1991-02-03",
    }
