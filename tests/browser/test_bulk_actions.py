"""In Chromium: a marketer ticks two contacts, tags them in bulk and watches the job's progress reach done."""

from playwright.sync_api import expect

from mailer.contacts.models.contact import Contact
from mailer.contacts.operations import email_hash
from mailer.contacts.tags import tags_of
from mailer.core.extensions import db
from mailer.staff.accounts import create_staff
from tests.browser.conftest import LinkChecker, assert_accessible, keyboard_login, shoot

MARKETER, PASSWORD = "marketer@example.com", "correct horse battery"


def test_tick_two_contacts_tag_them_and_watch_the_progress(app, app_ctx, page, live_server, worker):
    create_staff(MARKETER, PASSWORD, "marketer")
    people = []
    for address in ("ann@example.com", "bob@example.com", "cid@example.org"):
        contact = Contact(email=address, email_hash=email_hash(address), attributes={})
        db.session.add(contact)
        people.append(contact)
    db.session.commit()
    links = LinkChecker(page, live_server)
    keyboard_login(page, MARKETER, PASSWORD)
    page.get_by_role("link", name="Contacts", exact=True).click()
    assert_accessible(page)
    page.get_by_label("Select ann@example.com").check()
    page.get_by_label("Select cid@example.org").check()
    page.get_by_label("Action").select_option(label="Add the tag")
    page.get_by_label("Tag", exact=True).fill("Spring fair")
    page.get_by_role("button", name="Review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bulk action")
    expect(page.get_by_text("Add the tag “Spring fair” to 2 contacts")).to_be_visible()
    assert_accessible(page)
    assert links.check() == []
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add the tag “Spring fair”")
    expect(page.get_by_role("alert")).to_have_text("Started: add the tag “Spring fair” on 2 contacts.")
    # The worker runs beside the page; the page polls and shows the outcome once the job is done.
    expect(page.get_by_text("Status: done")).to_be_visible()
    expect(page.get_by_text("2 of 2 contacts")).to_be_visible()
    expect(page.get_by_role("progressbar", name="Progress")).to_have_attribute("aria-valuenow", "100")
    assert_accessible(page)
    shoot(page, "bulk-tag-done")
    db.session.expire_all()
    tagged = tags_of([p.id for p in people])
    assert [[t.name for t in tagged.get(p.id, [])] for p in people] == [["Spring fair"], [], ["Spring fair"]]
