"""In Chromium: a marketer narrows the contacts page to a saved segment, and the page stays accessible."""

from playwright.sync_api import expect

from mailer.contacts.models.contact import Contact
from mailer.contacts.operations import email_hash
from mailer.contacts.tags import add_tag
from mailer.core.extensions import db
from mailer.segments.operations import save_segment
from mailer.staff.accounts import create_staff
from tests.browser.conftest import LinkChecker, assert_accessible, keyboard_login, shoot

MARKETER, PASSWORD = "marketer@example.com", "correct horse battery"


def test_filter_the_contacts_page_by_a_saved_segment(app, app_ctx, page, live_server):
    create_staff(MARKETER, PASSWORD, "marketer")
    for address in ("ann@example.com", "bob@example.com", "cid@example.org"):
        contact = Contact(email=address, email_hash=email_hash(address), attributes={})
        db.session.add(contact)
        db.session.flush()
        if address != "bob@example.com":
            add_tag(contact, "vip", actor=None)
    save_segment(
        "VIP people", {"match": "all", "rules": [{"field": "tag", "op": "has", "value": "vip"}]}, None
    )
    db.session.commit()
    links = LinkChecker(page, live_server)
    keyboard_login(page, MARKETER, PASSWORD)
    page.get_by_role("link", name="Contacts", exact=True).click()
    expect(page.get_by_role("link", name="bob@example.com")).to_be_visible()
    page.get_by_label("Segment", exact=True).select_option(label="VIP people")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("2 contacts", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="ann@example.com")).to_be_visible()
    expect(page.get_by_role("link", name="cid@example.org")).to_be_visible()
    expect(page.get_by_role("link", name="bob@example.com")).to_have_count(0)
    assert (
        page.get_by_label("Segment", exact=True).evaluate("s => s.options[s.selectedIndex].text")
        == "VIP people"
    )
    assert_accessible(page)
    assert links.check() == []
    shoot(page, "contacts-by-segment")

    # An address search inside the segment.
    page.get_by_label("Search").fill("example.org")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("1 contact", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="cid@example.org")).to_be_visible()
