"""DKIM rotation on the Deliverability page in a real browser: an owner creates a new selector, sees its
record beside the signing key's, and the section has no accessibility violation."""

import pytest
from playwright.sync_api import expect

from mailer.core.extensions import db
from mailer.delivery.dkim import generate_key
from tests.browser.conftest import keyboard_login
from tests.support.accessibility import accessibility_violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.config(DNS_NAMESERVERS=["127.0.0.1:1"], DNS_TIMEOUT_SECONDS=0.5),
]


def test_owner_creates_a_selector_to_publish_beside_the_signing_one(app, page, live_server, staff_user):
    generate_key("example.com", "s2026")
    db.session.commit()
    keyboard_login(page)
    page.goto("/admin/deliverability")
    section = page.get_by_role("region", name="DKIM keys and rotation")
    section.get_by_label("New selector for example.com").fill("s2027")
    section.get_by_role("button", name="Create key to publish").click()

    expect(page.get_by_text("Key s2027 created for example.com")).to_be_visible()
    section = page.get_by_role("region", name="DKIM keys and rotation")
    pending = section.get_by_role("listitem").filter(has_text="Selector s2027")
    expect(pending).to_contain_text("Not signing yet")
    expect(pending).to_contain_text("s2027._domainkey.example.com. IN TXT")
    expect(pending.get_by_role("button", name="Switch to s2027")).to_be_visible()
    expect(section.get_by_role("listitem").filter(has_text="Selector s2026")).to_contain_text("Signing")

    pending.get_by_role("button", name="Check DNS for s2027").click()
    expect(page.get_by_role("alert").filter(has_text="DNS could not be asked:")).to_be_visible()
    assert accessibility_violations(page, "section[aria-labelledby=dkim-heading]") == []
