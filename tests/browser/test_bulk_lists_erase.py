"""In Chromium: a marketer adds every contact (all pages, not only the ticked ones) to a list on a stated
consent basis and finds the job on the jobs page; a privacy officer erases ticked contacts with a reason and
the typed count. axe-core on every page on the way."""

from playwright.sync_api import expect
from sqlalchemy import select

from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.core.extensions import db
from mailer.staff.accounts import create_staff
from mailer.subscriptions.lists import create_list
from mailer.subscriptions.models.lists import Subscription
from tests.browser.conftest import LinkChecker, assert_accessible, keyboard_login, shoot
from tests.support.people import bare_contacts

PASSWORD = "correct horse battery"
STATEMENT = "Signed the paper form at the Berlin shop on 3 May; kept in the office file."


def test_add_every_contact_to_a_list_and_find_the_job(app, app_ctx, page, live_server, worker):
    create_staff("marketer@example.com", PASSWORD, "marketer")
    news = create_list("Newsletter")
    db.session.commit()
    people = bare_contacts(55)  # more than the page's 50
    links = LinkChecker(page, live_server)
    keyboard_login(page, "marketer@example.com", PASSWORD)
    page.get_by_role("link", name="Contacts", exact=True).click()
    page.get_by_label("Action").select_option(label="Add to the list")
    page.get_by_label("Which list").select_option(label="Newsletter")
    page.get_by_label("Every contact, on all pages").check()
    page.get_by_role("button", name="Review").click()
    expect(page.get_by_text("Add to the list “Newsletter”:")).to_be_visible()
    expect(page.get_by_text("55 contacts", exact=True)).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Start").click()  # no basis chosen: the browser asks for it
    expect(page.get_by_role("heading", level=1)).to_have_text("Bulk action")
    page.get_by_label("They consented elsewhere (say where and how)").check()
    page.get_by_label("Where and how they consented").fill("at the fair")
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("alert")).to_contain_text("Say where and how the person consented")
    assert_accessible(page)
    page.get_by_label("Where and how they consented").fill(STATEMENT)
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add to the list “Newsletter”")
    expect(page.get_by_text("Status: done")).to_be_visible()
    expect(page.get_by_text("55 of 55 contacts")).to_be_visible()
    assert_accessible(page)
    shoot(page, "bulk-list-add-done")
    page.get_by_role("link", name="Bulk jobs").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bulk jobs")
    row = page.get_by_role("row").filter(has_text="Add to the list “Newsletter”")
    expect(row).to_contain_text("marketer@example.com")
    expect(row).to_contain_text("changed 55 of 55")
    assert_accessible(page)
    assert links.check() == []
    db.session.expire_all()
    statuses = db.session.execute(
        select(Subscription.status).where(Subscription.list_id == news.id)
    ).scalars()
    assert sorted(statuses) == ["confirmed"] * len(people)


def test_a_privacy_officer_erases_ticked_contacts(app, app_ctx, page, live_server, worker):
    create_staff("dpo@example.com", PASSWORD, "privacy")
    people = bare_contacts(3)
    keyboard_login(page, "dpo@example.com", PASSWORD)
    page.get_by_role("link", name="Contacts", exact=True).click()
    page.get_by_label(f"Select {people[0].email}").check()
    page.get_by_label(f"Select {people[2].email}").check()
    page.get_by_role("button", name="Erase…").click()
    expect(page.get_by_text("This cannot be undone.")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Why are these contacts erased?").fill("Shop closed; its customer data goes")
    page.get_by_label("Type ERASE 2 to confirm").fill("ERASE 3")
    page.get_by_role("button", name="Erase", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("Type ERASE 2 to confirm: erasure cannot be undone.")
    page.get_by_label("Type ERASE 2 to confirm").fill("ERASE 2")
    page.get_by_role("button", name="Erase", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Erase contacts")
    expect(page.get_by_text("Status: done")).to_be_visible()
    expect(page.get_by_text("erased 2")).to_be_visible()
    assert_accessible(page)
    shoot(page, "bulk-erase-done")
    db.session.expire_all()
    statuses = [db.session.get(Contact, p.id).status for p in people]
    assert statuses == [ContactStatus.ERASED, ContactStatus.ACTIVE, ContactStatus.ERASED]
