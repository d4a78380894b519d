"""A person fills a hosted form that asks for a custom field and a sensitive one, in Chromium."""

from playwright.sync_api import expect

from mailer.consent.ledger import consent_status
from mailer.contacts import fields as field_service
from mailer.core.extensions import db
from tests.browser.conftest import shoot
from tests.support.http import confirm_link
from tests.support.privacy import ask_on_form
from tests.support.signup import contact_by_email, outbox_to

LIST_BOX = "Yes, send me “Demo newsletter” by email."


def test_a_sensitive_answer_is_kept_only_with_the_explicit_consent_tick(
    app, page, live_server, demo_form, worker
):
    company = field_service.define_field("company", "Company", "personal_identifier")
    health = field_service.define_field("health", "Health condition", "sensitive")
    db.session.commit()
    ask_on_form(demo_form, company, label="Where do you work?", required=True)
    ask_on_form(demo_form, health, label="Anything we should know about your health?")
    consent = field_service.consent_label(health)

    page.goto("/f/demo")
    page.get_by_label("Email address").fill("hana@example.com")
    page.get_by_label(LIST_BOX).check()
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("alert")).to_have_text("Please fill in “Where do you work?”.")
    expect(page.get_by_label("Where do you work?")).to_be_focused()
    expect(page.get_by_label("Where do you work?")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Where do you work?").fill("Blue Harbour Ltd")
    page.get_by_label("Anything we should know about your health? (optional)").fill("Peanut allergy")
    expect(page.get_by_label(consent)).not_to_be_checked()  # never pre-ticked
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("alert")).to_contain_text("with your explicit consent: tick the box under it")
    expect(page.get_by_label("Anything we should know about your health? (optional)")).to_be_focused()
    shoot(page, "form-fields-consent-missing")

    page.get_by_label(consent).check()
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("status")).to_contain_text("Please check your inbox")
    shoot(page, "form-fields-done")

    worker.drain()
    [message] = outbox_to("hana@example.com")
    # The page's script presses "Yes, confirm my subscription" after 400 ms (static/confirm.js); clicking
    # it as well raced that submission and failed under load once the page had navigated.
    page.goto(confirm_link(message.raw, live_server))
    expect(page.get_by_role("heading", name="Thank you — you're subscribed")).to_be_visible()
    hana = contact_by_email("hana@example.com")
    assert field_service.read_value(hana, company) == "Blue Harbour Ltd"
    assert field_service.read_value(hana, health) == "Peanut allergy"
    assert consent_status(hana, health.purpose) == "granted"
