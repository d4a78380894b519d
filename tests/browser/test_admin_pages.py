"""Every admin page in a real browser: with data and on an
empty database, links, keyboard, creating things."""

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from mailer.consent.models import ConsentEvent
from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from mailer.delivery.models import OutboxMessage
from mailer.subscriptions.models.forms import Form
from mailer.subscriptions.models.lists import MailingList
from tests.browser.conftest import LinkChecker, keyboard_login, shoot
from tests.support.http import confirm_link, consent_values, form_timer


@pytest.fixture
def confirmed_contact(app, demo_form, worker):
    """Ann signed up through the demo form and confirmed; her confirmation email is in the outbox."""
    client = app.test_client()
    response = client.post(
        "/f/demo",
        data={
            "email": "ann@example.com",
            "name": "Ann Example",
            "ts": form_timer(client),
            "website": "",
            "consent": consent_values(client)[:1],
        },
        headers={"User-Agent": "SignupBrowser/1.0"},
    )
    assert response.status_code == 200
    worker.drain()
    message = db.session.execute(select(OutboxMessage)).scalar_one()
    link = confirm_link(message.raw, app.config["MAILER_BASE_URL"])
    confirmed = client.post(
        link[len(app.config["MAILER_BASE_URL"]) :], headers={"User-Agent": "ConfirmBrowser/2.0"}
    )
    assert confirmed.status_code == 200
    db.session.expire_all()
    return db.session.execute(select(Contact)).scalar_one()


def visit(page: Page, links: LinkChecker, path: str, heading: str, shot: str | None = None) -> None:
    """Open an admin page as a person would and check what they see: its heading and working links."""
    response = page.goto(path)
    assert response.status == 200, f"{path} answered {response.status}"
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.get_by_role("link", name="Log in")).to_have_count(0)  # still logged in
    assert links.check() == []
    if shot:
        shoot(page, shot)


def test_every_admin_page_with_data(page, live_server, staff_user, confirmed_contact):
    contact = confirmed_contact
    mailing_list = db.session.execute(select(MailingList)).scalar_one()
    form = db.session.execute(select(Form)).scalar_one()
    message = db.session.execute(select(OutboxMessage)).scalar_one()
    links = LinkChecker(page, live_server)

    keyboard_login(page)
    visit(page, links, "/admin/", "Dashboard", "admin-dashboard")
    expect(page.get_by_role("link", name="Ann Example")).to_have_count(2)  # requested and confirmed
    visit(page, links, "/admin/lists", "Lists", "admin-lists")
    expect(page.get_by_role("row", name="Demo newsletter")).to_contain_text("1")
    visit(page, links, "/admin/lists/new", "New list")
    visit(page, links, f"/admin/lists/{mailing_list.public_id}", "Demo newsletter", "admin-list-show")
    expect(page.get_by_role("link", name="Ann Example")).to_be_visible()
    visit(page, links, f"/admin/lists/{mailing_list.public_id}/edit", "Edit “Demo newsletter”")
    expect(page.get_by_label("Name")).to_have_value("Demo newsletter")

    visit(page, links, "/admin/contacts", "Contacts", "admin-contacts")
    expect(page.get_by_role("link", name="Ann Example")).to_be_visible()
    page.get_by_label("Search").fill("ann@example.com")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(f"{live_server}/admin/contacts?q=ann%40example.com&list=&segment=&status=")
    expect(page.get_by_text("1 contact", exact=True)).to_be_visible()
    assert links.check() == []
    visit(page, links, "/admin/contacts?q=nobody%40example.com", "Contacts")
    expect(page.get_by_text("No contact matches that search.")).to_be_visible()
    visit(page, links, f"/admin/contacts/{contact.public_id}", "Ann Example active", "admin-contact-show")
    history = page.get_by_role("table").filter(has_text="User agent")
    for action in ("requested", "confirmation_sent", "confirmed"):
        expect(history.get_by_role("cell", name=action, exact=True).first).to_be_visible()
    visit(page, links, f"/admin/contacts/{contact.public_id}/evidence", "Proof of double opt-in")

    visit(page, links, "/admin/forms", "Sign-up forms", "admin-forms")
    visit(page, links, "/admin/forms/new", "New sign-up form", "admin-form-new")
    visit(page, links, f"/admin/forms/{form.public_id}", "Demo form")
    snippet_form = f'<form action="{live_server}/f/demo" method="post"'
    snippet = page.get_by_label("Snippet", exact=True)  # not "Language of the snippet's labels"
    expect(snippet).to_have_value(re.compile(re.escape(snippet_form)))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    page.get_by_role("button", name="Copy snippet").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == snippet.input_value()
    preview = page.frame_locator("iframe[title='Form preview']")
    expect(preview.get_by_role("heading")).to_have_text("Subscribe to the demo newsletter")
    expect(preview.get_by_role("button", name="Subscribe")).to_be_in_viewport()  # the preview isn't cut off
    shoot(page, "admin-form-show")
    visit(page, links, f"/admin/forms/{form.public_id}/edit", "Edit “Demo form”")
    expect(page.get_by_label("Slug (used in the URL)")).to_have_value("demo")
    visit(page, links, f"/admin/forms/{form.public_id}/languages/it", "“Demo form” in Italiano")
    expect(page.get_by_label("Heading")).to_have_value("Iscriviti alla newsletter dimostrativa")

    visit(page, links, "/admin/outbox", "Outbox", "admin-outbox")
    page.get_by_role("link", name="Please confirm your subscription to Mailer Demo").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Please confirm your subscription to Mailer Demo"
    )
    assert page.url == f"{live_server}/admin/outbox/{message.public_id}"
    assert links.check() == []
    expect(page.frame_locator("iframe[title='HTML part']").get_by_role("link").first).to_be_visible()
    shoot(page, "admin-outbox-show")
    page.get_by_role("tab", name="Text").click()
    expect(page.get_by_role("tabpanel")).to_contain_text(f"{live_server}/confirm/")
    page.get_by_role("tab", name="Raw source").click()
    expect(page.get_by_role("tabpanel")).to_contain_text(f"Message-ID: {message.message_id}")


def test_evidence_page_prints_the_proof(page, live_server, staff_user, confirmed_contact):
    contact = confirmed_contact
    sent = db.session.execute(
        select(ConsentEvent).where(ConsentEvent.action == "confirmation_sent")
    ).scalar_one()
    confirmed = (
        db.session.execute(select(ConsentEvent).where(ConsentEvent.action == "confirmed")).scalars().first()
    )

    keyboard_login(page)
    page.goto(f"/admin/contacts/{contact.public_id}")
    page.get_by_role("link", name="Opt-in evidence").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Proof of double opt-in")

    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    record = page.locator("section").filter(has=page.get_by_role("heading", name="Sign-up 1"))
    for term, shown in [
        ("IP address", "127.0.0.1"),
        ("User agent", "SignupBrowser/1.0"),
        ("Confirmation email", sent.details["message_id"]),
        ("Confirmed", confirmed.created_at.strftime("%Y-%m-%d %H:%M:%S") + " UTC from IP 127.0.0.1"),
        ("Confirmed", "ConfirmBrowser/2.0"),
    ]:
        expect(record.locator(f"dt:text-is('{term}') + dd")).to_contain_text(shown)
    notice = record.get_by_role("heading", name="What the person was shown")
    expect(notice).to_contain_text("version 1")
    for wording in (
        "Subscribe to the demo newsletter",
        "Yes, send me “Demo newsletter” by email.",
        "We use your address only to send what you ticked.",
    ):
        expect(record.get_by_text(wording)).to_be_visible()
    shoot(page, "admin-evidence-print")
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000


def test_every_admin_page_on_an_empty_database(page, live_server, staff_user):
    links = LinkChecker(page, live_server)
    keyboard_login(page)

    visit(page, links, "/admin/", "Dashboard", "admin-empty-dashboard")
    expect(page.get_by_text("No lists yet.")).to_be_visible()
    visit(page, links, "/admin/lists", "Lists", "admin-empty-lists")
    expect(page.get_by_text("No lists yet.")).to_be_visible()
    visit(page, links, "/admin/contacts", "Contacts", "admin-empty-contacts")
    expect(page.get_by_text("No contacts yet.")).to_be_visible()
    visit(page, links, "/admin/contacts?q=ann%40example.com", "Contacts")
    expect(page.get_by_text("No contact matches that search.")).to_be_visible()
    visit(page, links, "/admin/forms", "Sign-up forms", "admin-empty-forms")
    expect(page.get_by_text("No forms yet.")).to_be_visible()
    visit(page, links, "/admin/forms/new", "New sign-up form")
    expect(page.get_by_text("Create a list first")).to_be_visible()
    visit(page, links, "/admin/outbox", "Outbox", "admin-empty-outbox")
    expect(page.get_by_text("No mail yet.")).to_be_visible()


def test_create_a_list_and_a_form_through_the_admin(page, live_server, staff_user):
    links = LinkChecker(page, live_server)
    keyboard_login(page)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Lists").click()
    page.get_by_role("link", name="New list").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New list")
    page.get_by_label("Name").fill("Product news")
    page.get_by_label("Public description").fill("What we ship, once a month.")
    page.get_by_label("Visibility").select_option(label="Private — only staff can add people")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_have_text("List “Product news” created.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Product news")
    expect(page.get_by_text("What we ship, once a month. · private")).to_be_visible()
    expect(page.get_by_text("Nobody here yet.")).to_be_visible()
    assert links.check() == []
    shoot(page, "admin-list-created")
    page.get_by_role("link", name="Lists").first.click()
    expect(page.get_by_role("row", name="Product news")).to_contain_text("private")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Forms").click()
    page.get_by_role("link", name="New form").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New sign-up form")
    page.get_by_label("Internal name").fill("Footer form")
    page.get_by_label("Slug (used in the URL)").fill("footer")
    page.get_by_label("Heading").fill("Get our product news")
    page.get_by_role("checkbox", name="Product news").check()
    page.get_by_label("Allowed origins").fill("https://www.example.com")
    page.get_by_role("button", name="Save form").click()
    expect(page.get_by_role("alert")).to_have_text("Form saved (wording version 1).")
    expect(page.get_by_role("heading", level=1)).to_have_text("Footer form")
    expect(page.get_by_text("Allowed origins: https://www.example.com.")).to_be_visible()
    expect(page.frame_locator("iframe[title='Form preview']").get_by_role("heading")).to_have_text(
        "Get our product news"
    )
    assert links.check() == []
    shoot(page, "admin-form-created")
    page.get_by_role("link", name="Forms").first.click()
    row = page.get_by_role("row", name="Footer form")
    expect(row).to_contain_text("/f/footer")
    expect(row).to_contain_text("Product news")

    # The hosted page of the new form is live.
    row.get_by_role("link", name="/f/footer").click()
    expect(page.get_by_role("heading", name="Get our product news")).to_be_visible()
    expect(page.get_by_label("Yes, send me “Product news” by email.")).not_to_be_checked()
