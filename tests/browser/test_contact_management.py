"""A marketer adds a contact by hand in Chromium, meets the duplicate message, and edits the contact."""

from playwright.sync_api import expect
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.consent.models import ConsentEvent
from mailer.contacts import fields as field_service
from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from mailer.staff.accounts import create_staff
from tests.browser.conftest import LinkChecker, assert_accessible, keyboard_login, shoot

MARKETER, PASSWORD = "marketer@example.com", "correct horse battery"
STATEMENT = "Signed the paper form at the Berlin shop on 3 May; kept in the office file."


def test_add_a_contact_by_hand_then_edit_it(app, app_ctx, page, live_server, demo_form):
    field_service.define_field("company", "Company", "ordinary")
    create_staff(MARKETER, PASSWORD, "marketer")
    db.session.commit()
    links = LinkChecker(page, live_server)
    keyboard_login(page, MARKETER, PASSWORD)
    page.get_by_role("link", name="Contacts", exact=True).click()
    page.get_by_role("link", name="Add a contact").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a contact")
    assert_accessible(page)
    assert links.check() == []

    # A consent basis without its statement is refused with a message; nothing is stored.
    page.get_by_label("Email address").fill("ann@example.com")
    page.get_by_label("Name (optional)").fill("Ann Example")
    page.get_by_label("Company").fill("Example GmbH")
    page.get_by_label("Demo newsletter").check()
    page.get_by_role("button", name="Add the contact").click()
    expect(page.get_by_role("alert")).to_contain_text("Say where and how the person consented")
    assert db.session.execute(select(Contact)).first() is None
    expect(page.get_by_label("Company")).to_have_value("Example GmbH")  # what was typed is kept
    page.get_by_label("Where and how did they consent?").fill(STATEMENT)
    page.get_by_role("button", name="Add the contact").click()
    expect(page.get_by_role("alert")).to_have_text("Contact added to Demo newsletter.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ann Example")
    expect(page.get_by_role("link", name="Demo newsletter")).to_be_visible()
    expect(page.get_by_text(STATEMENT)).to_be_visible()  # the proof, in the ledger history
    assert_accessible(page)
    shoot(page, "contact-added")

    # The same address again: a clear message with a link to the existing contact.
    page.goto("/admin/contacts/new")
    page.get_by_label("Email address").fill("ANN@example.com")
    page.get_by_label("Demo newsletter").check()
    page.get_by_label("Send them a double opt-in email instead").check()
    page.get_by_role("button", name="Add the contact").click()
    expect(page.get_by_role("alert")).to_contain_text("A contact with this address already exists.")
    assert_accessible(page)
    page.get_by_role("link", name="Open the existing contact").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ann Example")

    # Edit the name and an ordinary field.
    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit Ann Example")
    expect(page.get_by_label("Company")).to_have_value("Example GmbH")
    assert_accessible(page)
    assert links.check() == []
    page.get_by_label("Name").fill("Ann Other")
    page.get_by_label("Company").fill("Other AG")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_have_text("Saved: name, company.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ann Other")
    shoot(page, "contact-edited")
    db.session.expire_all()
    ann = db.session.execute(select(Contact)).scalar_one()
    assert field_service.read_value(ann, field_service.field_by_key("company")) == "Other AG"
    actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.target_id == ann.public_id))
    assert sorted(actions.scalars()) == ["contact.add", "contact.edit"]
    granted = db.session.execute(select(ConsentEvent).where(ConsentEvent.action == "granted")).scalar_one()
    assert granted.details["statement"] == STATEMENT
