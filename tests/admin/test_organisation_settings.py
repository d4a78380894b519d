"""Settings → Organisation on a fresh install: the name, postal address, sender and reply-to are typed once in
the admin (no environment variable, no restart), the dashboard's checklist ticks them, and a test and a
campaign go out with them; a variable, when set, wins and its field is shown as set by the environment."""

import email
import re
from email import policy
from html import unescape

import pytest
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.core.extensions import db
from mailer.delivery.models import OutboxMessage
from mailer.staff.accounts import create_staff
from tests.admin.test_campaign_pages import draft, form_token
from tests.support.audience import subscriber
from tests.support.http import login
from tests.support.signup import page

FRESH = pytest.mark.config(
    MAILER_POSTAL_ADDRESS="", MAILER_FROM="", MAILER_ORGANISATION="", MAILER_REPLY_TO=""
)
SETTINGS = "/admin/organisation"
VALUES = {
    "name": "Green Grocers",
    "postal_address": "Green Grocers GmbH\nMarktstraße 5, 10115 Berlin",
    "from_name": "Green Grocers News",
    "from_email": "news@greengrocers.example",
    "reply_to": "hello@greengrocers.example",
}


def _save(client, **values):
    return client.post(SETTINGS, data={"csrf_token": form_token(client, SETTINGS), **values})


def _checklist(client) -> dict[str, str]:
    """Each step's words -> "yes" or "no", as the dashboard shows them (empty when the card is gone)."""
    text = page(client.get("/admin/"))
    if "data-first-run-checklist" not in text:
        return {}
    return {
        label: done
        for done, label in re.findall(
            r'data-step-done="(yes|no)">\s*<span [^>]*aria-hidden="true">[^<]*</span>\s*'
            r"(?:<a [^>]*>)?([^<]+)",
            text,
        )
    }


@FRESH
def test_fresh_install_fill_in_once_then_test_and_campaign_go_out_with_it(auth, demo_form, worker):
    steps = _checklist(auth)
    assert steps["Name your organisation and give its postal address"] == "no"
    assert steps["Choose the sender name and address"] == "no"
    assert steps["Create a list"] == "yes" and steps["Make a sign-up form"] == "yes"  # the seeded demo ones
    assert steps["Send (or schedule) a campaign"] == "no"

    campaign = draft(auth)
    show = f"/admin/campaigns/{campaign.public_id}"
    refused = auth.post(
        f"{show}/test", data={"csrf_token": form_token(auth, show), "addresses": "me@example.com"}
    )
    assert refused.status_code == 400
    text = page(refused)
    # The reason sits beside the button with a link to fix it, not on the address box (nothing wrong there).
    assert "data-test-problem>No postal address is set: add it under Settings → Organisation" in text
    assert "Open the organisation settings" in text and "is-invalid" not in text

    form = page(auth.get(SETTINGS))
    assert "Organisation settings" in form and "Set by the environment" not in form
    bad = _save(auth, **{**VALUES, "postal_address": " ", "from_email": "not an address"})
    assert bad.status_code == 400
    text = page(bad)
    assert "Enter the postal address: the law requires it in every marketing email's footer." in text
    assert "The sender address “not an address” is not a valid email address." in text
    assert _save(auth, **{**VALUES, "from_name": "x@evil.example"}).status_code == 400

    saved = _save(auth, **VALUES)
    assert saved.status_code == 302
    assert "Organisation settings saved." in page(auth.get(saved.headers["Location"]))
    [entry] = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "settings.organisation")
    ).scalars()
    assert set(entry.details["changed"]) == set(VALUES) and entry.actor_id is not None
    steps = _checklist(auth)
    assert steps["Name your organisation and give its postal address"] == "yes"
    assert steps["Choose the sender name and address"] == "yes"
    assert "✉ Green Grocers" in page(auth.get("/admin/"))

    subscriber(demo_form, "ann@example.com", name="Ann")
    sent = auth.post(
        f"{show}/test", data={"csrf_token": form_token(auth, show), "addresses": "me@example.com"}
    )
    assert sent.status_code == 302
    shown = page(auth.get(sent.headers["Location"]))
    assert "data-test-sent>Test of" in shown  # beside the Send test button
    worker.drain()
    db.session.expire_all()
    [test] = db.session.execute(
        select(OutboxMessage).where(OutboxMessage.rcpt_to == "me@example.com")
    ).scalars()
    message = email.message_from_bytes(test.raw, policy=policy.default)
    assert message["Reply-To"] == "hello@greengrocers.example"
    html = unescape(message.get_body(("html",)).get_content())
    assert "Marktstraße 5, 10115 Berlin" in html and "Green Grocers" in html

    send = auth.post(f"{show}/send", data={"csrf_token": form_token(auth, f"{show}/send")})
    assert send.status_code == 302, page(send)
    worker.drain()
    db.session.expire_all()
    [real] = db.session.execute(
        select(OutboxMessage).where(
            OutboxMessage.rcpt_to == "ann@example.com", OutboxMessage.category == "marketing"
        )
    ).scalars()
    assert "Marktstraße 5" in unescape(
        email.message_from_bytes(real.raw, policy=policy.default).get_body(("html",)).get_content()
    )
    assert _checklist(auth)["Send (or schedule) a campaign"] == "yes"
    after = page(auth.get(show))  # the audience is told in the past once it is sent
    assert (
        "1 </span>" not in after
        and "recipient was in the audience" in after
        and "will receive it" not in after
    )


@FRESH
def test_a_new_draft_starts_from_the_settings_sender(auth, demo_form):
    assert _save(auth, **VALUES).status_code == 302
    editor = page(auth.get("/admin/campaigns/new"))
    assert 'value="Green Grocers News"' in editor and 'value="news@greengrocers.example"' in editor


@pytest.mark.config(MAILER_POSTAL_ADDRESS="Env Ltd, 9 Config Road", MAILER_ORGANISATION="", MAILER_FROM="")
def test_a_variable_overrides_its_field_which_the_page_disables(auth, demo_form):
    form = page(auth.get(SETTINGS))
    assert "Set by the environment</strong> (MAILER_POSTAL_ADDRESS)" in form
    assert "Env Ltd, 9 Config Road</textarea>" in form and " disabled" in form
    # A forged value for the overridden field is ignored; the others are stored.
    assert _save(auth, **{**VALUES, "postal_address": "Somewhere else"}).status_code == 302
    form = page(auth.get(SETTINGS))
    assert "Env Ltd, 9 Config Road" in form and "Somewhere else" not in form
    assert 'value="Green Grocers"' in form


def test_only_owners_and_admins_change_the_organisation(client, app_ctx):
    create_staff("marketer@example.com", "correct horse battery", "marketer")
    db.session.commit()
    login(client, "marketer@example.com", "correct horse battery")
    assert client.get(SETTINGS).status_code == 403
    assert 'href="/admin/organisation"' not in page(client.get("/admin/"))
