"""The privacy officer's day in Chromium: every privacy page renders with working links, a request is logged,
a sensitive value is revealed with a reason, a contact is restricted."""

from playwright.sync_api import expect
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from mailer.privacy.models.requests import PrivacyRequest
from mailer.staff.accounts import create_staff
from tests.browser.conftest import LinkChecker, keyboard_login, shoot
from tests.browser.test_admin_pages import visit
from tests.support.campaigns import newsletter
from tests.support.privacy import define_fields, fill_fields

OFFICER, PASSWORD = "dpo@example.com", "correct horse battery"


def test_privacy_officer_pages_request_reveal_and_restriction(app, app_ctx, page, live_server):
    _, (person,) = newsletter(1)
    fields = define_fields()
    fill_fields(
        person, fields, {"health": "Coeliac disease", "national_id": "DE-4417-2290-1133", "postcode": "24937"}
    )
    create_staff(OFFICER, PASSWORD, "privacy")
    db.session.commit()
    links = LinkChecker(page, live_server)
    keyboard_login(page, OFFICER, PASSWORD)
    page.get_by_role("link", name="Privacy", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Privacy requests")
    expect(page.get_by_text("No requests match.")).to_be_visible()
    expect(page.get_by_role("link", name="Staff")).to_have_count(0)  # owners and admins only

    # Log a request that came by letter.
    page.get_by_role("link", name="Log a request").click()
    page.get_by_label("The person's email address").fill(person.email)
    page.get_by_label("Right exercised").select_option("access")
    page.get_by_label("How it arrived").select_option("letter")
    page.get_by_label("Note (what was asked)").fill("Letter dated last Monday asking for a copy")
    page.get_by_role("button", name="Log the request").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Access (Art. 15)")
    expect(page.get_by_role("button", name="Send the verification link")).to_be_visible()
    shoot(page, "privacy-request-show")
    assert links.check() == []
    request = db.session.execute(select(PrivacyRequest)).scalar_one()
    visit(page, links, "/admin/privacy", "Privacy requests", "privacy-register")
    expect(page.locator("[data-count=open]")).to_have_text("1")
    for path, heading, shot in [
        ("/admin/retention", "Retention", "privacy-retention"),
        ("/admin/audit", "Audit log", "privacy-audit"),
        ("/admin/settings/privacy", "Privacy settings", "privacy-settings"),
        ("/admin/settings/recipients", "Who data is shared with", None),
        ("/admin/settings/recipients/new", "New recipient", None),
        ("/admin/settings/fields", "Contact fields", "privacy-fields"),
        ("/admin/settings/ropa", "Record of processing activities (Art. 30)", "privacy-ropa"),
        (f"/admin/privacy/contacts/{person.public_id}/rectify", f"Correct the data of {person.name}", None),
    ]:
        visit(page, links, path, heading, shot)
    page.goto("/admin/settings/notice")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Privacy notice — version")

    # The contact page: sensitive values masked; a reveal needs a reason and is audited.
    visit(page, links, f"/admin/contacts/{person.public_id}", f"{person.name} active", "privacy-contact")
    expect(page.locator("[data-field=national_id]")).to_have_text("•••• 1133")
    expect(page.locator("[data-field=health]")).to_have_text("••••")
    expect(page.get_by_text("Coeliac")).to_have_count(0)
    page.get_by_label("Why you need to see it").first.fill("Allergy list for the event")
    page.get_by_role("button", name="Reveal").first.click()
    expect(page.locator("#revealed-value")).to_have_text("Coeliac disease")
    db.session.expire_all()
    assert db.session.execute(
        select(AuditEvent.details).where(AuditEvent.action == "contact.view_sensitive")
    ).scalar_one() == {"field": "health", "reason": "Allergy list for the event"}

    # Restrict: the banner appears on every contact view.
    page.get_by_role("link", name="Back to the contact").click()
    page.get_by_role("button", name="Restrict processing").click()
    expect(page.locator("[data-restricted]")).to_contain_text("Processing is restricted")
    shoot(page, "privacy-contact-restricted")
    page.get_by_role("link", name="Opt-in evidence").click()
    expect(page.locator("[data-restricted]")).to_be_visible()
    db.session.expire_all()
    assert db.session.get(Contact, person.id).status == "restricted"
    assert request.public_id  # the logged request stays open in the register
