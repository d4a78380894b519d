"""An owner exports a list to CSV in Chromium: a reason first, then the file; the audit log records it."""

import csv
import io

from playwright.sync_api import expect
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.contacts.models.contact import Contact
from mailer.contacts.operations import email_hash
from mailer.core.extensions import db
from mailer.subscriptions.models.lists import MailingList, Subscription
from tests.browser.conftest import LinkChecker, assert_accessible, keyboard_login, shoot

REASON = "Guest list for the venue, as agreed in the contract."


def test_export_a_list_with_a_reason(app, app_ctx, page, live_server, staff_user, demo_form):
    demo = db.session.execute(select(MailingList)).scalar_one()
    for n in range(3):
        address = f"guest{n}@example.com"
        contact = Contact(email=address, email_hash=email_hash(address), name=f"Guest {n}", attributes={})
        db.session.add(contact)
        db.session.flush()
        db.session.add(Subscription(contact_id=contact.id, list_id=demo.id, status="confirmed"))
    db.session.commit()
    links = LinkChecker(page, live_server)
    keyboard_login(page)
    page.goto(f"/admin/lists/{demo.public_id}")
    page.get_by_role("link", name="Export CSV").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Export the contacts of {demo.name}")
    assert_accessible(page)
    assert links.check() == []
    page.get_by_role("button", name="Download CSV").click()
    expect(page.get_by_role("alert")).to_contain_text("Say why you need this file")
    assert_accessible(page)
    page.get_by_label("Why do you need this file?").fill(REASON)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith(f"list-{demo.public_id}-")
    with open(download.path(), encoding="utf-8") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read())))
    assert [row["email"] for row in rows] == [f"guest{n}@example.com" for n in range(3)]
    shoot(page, "list-export")
    page.goto("/admin/audit")
    expect(page.get_by_text("contacts.export").first).to_be_visible()
    db.session.expire_all()
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "contacts.export")).scalar_one()
    assert event.details["reason"] == REASON
