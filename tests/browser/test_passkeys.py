"""Passkeys in a real browser: Chromium's virtual authenticator (CDP WebAuthn domain) registers a passkey on
the account page, the second login step accepts it, and it can be removed. The site runs as http://localhost
(a WebAuthn RP ID cannot be an IP address; Chromium treats localhost as a secure context)."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from mailer.core.extensions import db
from mailer.staff.accounts import create_staff
from mailer.staff.models.security import StaffPasskey, StaffSession
from tests.browser.conftest import STAFF_EMAIL, STAFF_PASSWORD, assert_accessible, keyboard_login, shoot
from tests.support.browser import _free_port


@pytest.fixture
def live_server_url():
    """The app at http://localhost:<port> (MAILER_BASE_URL, and so the passkeys' RP ID, is localhost)."""
    return f"http://localhost:{_free_port()}"


@pytest.fixture
def authenticator(page):
    """A virtual platform authenticator with user verification, as a laptop's fingerprint reader would be."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    yield cdp, added["authenticatorId"]
    cdp.send("WebAuthn.disable")


def _password_step(page):
    """Log in with the owner's password; the second step follows."""
    page.get_by_label("Email").fill(STAFF_EMAIL)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()


def _log_out(page):
    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("You have been logged out.")


def test_a_passkey_is_registered_used_to_log_in_and_removed(app, page, live_server, authenticator):
    cdp, authenticator_id = authenticator
    with app.app_context():
        create_staff(STAFF_EMAIL, STAFF_PASSWORD, "owner")
        db.session.commit()
    keyboard_login(page)  # the owner's first login sets up the authenticator app

    page.goto("/admin/account")
    expect(page.get_by_role("heading", name="Passkeys")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Name for a new passkey").fill("Work laptop")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_text("Work laptop")).to_be_visible()
    assert len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]) == 1
    with app.app_context():
        [key] = db.session.execute(select(StaffPasskey)).scalars().all()
        assert key.name == "Work laptop" and key.sign_count >= 0
    shoot(page, "account-passkeys")

    _log_out(page)
    _password_step(page)
    assert_accessible(page)
    shoot(page, "login-second-step")
    page.get_by_role("button", name="Use a passkey").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    with app.app_context():
        newest = db.session.execute(select(StaffSession).order_by(StaffSession.id.desc())).scalars().first()
        assert newest.second_factor == "passkey" and newest.ended_at is None

    page.goto("/admin/account")
    page.get_by_role("button", name="Remove the passkey Work laptop").click()
    expect(page.get_by_role("alert")).to_have_text("Passkey “Work laptop” removed.")
    expect(page.get_by_text("No passkey yet.")).to_be_visible()
    _log_out(page)
    _password_step(page)
    expect(page.get_by_role("button", name="Use a passkey")).to_have_count(0)


def test_a_passkey_from_another_account_is_refused(app, page, live_server, authenticator):
    with app.app_context():
        create_staff("mia@example.com", STAFF_PASSWORD, "marketer")
        create_staff(STAFF_EMAIL, STAFF_PASSWORD, "owner")
        db.session.commit()
    keyboard_login(page, "mia@example.com", STAFF_PASSWORD)
    page.goto("/admin/account")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_text("Keep these recovery codes now")).to_be_visible()  # her first factor: codes, once
    _log_out(page)
    keyboard_login(page)  # the owner (authenticator app only)
    _log_out(page)
    _password_step(page)
    # The owner has no passkey: the page offers none, and a forged passkey answer is refused.
    expect(page.get_by_role("button", name="Use a passkey")).to_have_count(0)
    answer = page.request.post(
        "/admin/login/passkey",
        form={"csrf_token": page.locator("input[name=csrf_token]").first.input_value(), "credential": "{}"},
        headers={"Accept": "application/json"},
    )
    assert answer.status == 400
