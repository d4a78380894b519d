"""The Deliverability page's provider webhook section in a real browser: which providers are configured, the
endpoint to paste into each console, and the last event received, with no accessibility violation."""

import json

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import keyboard_login
from tests.deliverability import provider_signing as signing
from tests.support.accessibility import accessibility_violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.config(
        DNS_NAMESERVERS=["127.0.0.1:1"],
        DNS_TIMEOUT_SECONDS=0.5,
        SENDGRID_WEBHOOK_PUBLIC_KEY=signing.SENDGRID_PUBLIC,
        MAILGUN_WEBHOOK_SIGNING_KEY=signing.MAILGUN_KEY,
    ),
]


def test_operator_sees_configured_providers_their_endpoints_and_the_last_event(
    app, page, live_server, staff_user
):
    body = json.dumps(
        [signing.sendgrid_event("delivered", "<1.abc@example.com>", "ann@example.net")]
    ).encode()
    answer = app.test_client().post(
        "/hooks/providers/sendgrid", data=body, headers=signing.sendgrid_headers(body)
    )
    assert answer.status_code == 200, answer.text

    keyboard_login(page)
    page.goto("/admin/deliverability")

    section = page.get_by_role("region", name="Provider event webhooks")
    expect(section).to_be_visible()
    rows = section.get_by_role("row")
    sendgrid = rows.filter(has_text="SendGrid")
    expect(sendgrid).to_contain_text("Configured")
    expect(sendgrid).to_contain_text(f"{live_server}/hooks/providers/sendgrid")
    expect(sendgrid).to_contain_text("(1 event in all)")
    expect(rows.filter(has_text="Mailgun")).to_contain_text("Configured")
    expect(rows.filter(has_text="Mailgun")).to_contain_text("—")
    ses = rows.filter(has_text="Amazon SES")
    expect(ses).to_contain_text("Not configured")
    expect(ses).to_contain_text("set SES_SNS_TOPIC_ARNS")
    # This section only: other parts of the page (the DNS alert, the readiness note) are other changes' own.
    assert accessibility_violations(page, "#provider-webhooks") == []
