"""The suppression list in a real browser: an owner finds an address by typing it, reads the reason and
date, and takes a hard-bounced address off the list with a reason and the confirmation asked for."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.contacts.models.suppression import SuppressionReason
from mailer.contacts.operations import email_hash
from mailer.contacts.suppression import is_suppressed, suppress
from mailer.core.extensions import db
from tests.browser.conftest import keyboard_login
from tests.support.accessibility import accessibility_violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.config(DNS_NAMESERVERS=["127.0.0.1:1"], DNS_TIMEOUT_SECONDS=0.5),
]

REASON = "Their mailbox works again: they wrote to us from it."


def test_owner_finds_an_address_and_removes_it_with_a_reason(app, page, live_server, staff_user):
    suppress(email_hash("ann@example.net"), SuppressionReason.HARD_BOUNCE)
    suppress(email_hash("bob@example.net"), SuppressionReason.UNSUBSCRIBED)
    db.session.commit()

    keyboard_login(page)
    page.goto("/admin/deliverability")
    page.get_by_role("link", name="Search the suppression list").click()
    expect(page.get_by_role("heading", name="Suppression list", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="All entries (2)")).to_be_visible()
    assert accessibility_violations(page, "main") == []

    page.get_by_label("Full email address").fill("ANN@example.net")
    page.get_by_role("button", name="Find").click()
    result = page.get_by_role("region", name="Search result")
    expect(result).to_contain_text("This address is on the suppression list.")
    row = result.get_by_role("row").filter(has_text="Hard bounce")
    expect(row).to_contain_text("A bounce report from the receiving server or provider")
    row.get_by_text("Remove…").click()
    expect(row).to_contain_text("This address was suppressed after a hard bounce.")
    assert accessibility_violations(page, "main") == []

    row.get_by_label("Why may this address be mailed again?").fill(REASON)
    row.get_by_label("I have checked that this address works and wants our mail again").check()
    row.get_by_role("button", name="Remove from the suppression list").click()

    expect(page.get_by_text("removed; the removal and your reason are in the audit log")).to_be_visible()
    expect(page.get_by_role("heading", name="All entries (1)")).to_be_visible()
    expect(page.get_by_role("region", name="Recent removals")).to_contain_text(REASON)
    assert accessibility_violations(page, "main") == []

    db.session.rollback()
    assert not is_suppressed(email_hash("ann@example.net"))
    assert is_suppressed(email_hash("bob@example.net"))
    assert db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "suppression.remove")
    ).scalar_one()
