"""First run: /admin/setup creates the owner, only with the printed token and only while no account exists."""

import time

import pytest
from sqlalchemy import select

from mailer.core.extensions import db
from mailer.staff.accounts import create_staff, setup_token
from mailer.staff.models.accounts import StaffUser
from tests.support.authenticator import AUTHENTICATOR
from tests.support.html_forms import submit_form
from tests.support.http import enrol_totp
from tests.support.signup import page, signed_at

ACCOUNT = {
    "email": "first@example.com",
    "password": "a fine long password",
    "confirm": "a fine long password",
}


def _staff() -> list[tuple[str, str]]:
    db.session.expire_all()
    return [(u.email, u.role) for u in db.session.execute(select(StaffUser)).scalars()]


@pytest.fixture
def setup_url(app_ctx):
    return f"/admin/setup?token={setup_token()}"


def test_setup_creates_the_owner_and_logs_in(app, client, setup_url):
    shown = client.get(setup_url)
    assert shown.status_code == 200 and "create the owner account" in page(shown)
    response = submit_form(client, setup_url, shown.text, **ACCOUNT)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    # An owner can export personal data: before anything else, they set up a second factor.
    held = client.get("/admin/")
    assert held.status_code == 302 and held.headers["Location"].startswith("/admin/account/two-factor")
    enrolment = client.get(held.headers["Location"])
    assert "Welcome! Your owner account is ready." in page(enrolment)
    assert "Set up your authenticator app" in page(enrolment) and "<svg" in enrolment.text
    recovery = enrol_totp(client, "first@example.com", held.headers["Location"])
    assert len(AUTHENTICATOR.recovery_codes["first@example.com"]) == 10 and "shown only this time" in page(
        recovery
    )
    assert client.get("/admin/").status_code == 200
    assert _staff() == [("first@example.com", "owner")]
    staff_list = page(client.get("/admin/staff"))  # setting up logged them in: not "never"
    assert "first@example.com" in staff_list and "never" not in staff_list


@pytest.mark.parametrize("token", ["", "nonsense", "InNldHVwIg.forged.signature"])
def test_setup_needs_a_valid_token(app, client, app_ctx, token):
    assert client.get(f"/admin/setup?token={token}").status_code == 404
    assert client.post(f"/admin/setup?token={token}", data=ACCOUNT).status_code in (400, 404)
    assert _staff() == []


def test_setup_token_expires_after_a_day(app, client, app_ctx):
    old = signed_at(app.config["SECRET_KEY"], "setup", "first-run", time.time() - 2 * 86400)
    fresh = signed_at(app.config["SECRET_KEY"], "setup", "first-run", time.time() - 3600)
    assert client.get(f"/admin/setup?token={old}").status_code == 404
    assert client.get(f"/admin/setup?token={fresh}").status_code == 200


def test_setup_is_closed_once_an_account_exists(app, client, setup_url):
    shown = client.get(setup_url)
    create_staff("someone@example.com", "correct horse battery", "owner")
    db.session.commit()
    again = client.get(setup_url)
    assert again.status_code == 302 and again.headers["Location"] == "/admin/login"
    assert "Setup is already done. Please log in." in page(client.get("/admin/login"))
    late = submit_form(client, setup_url, shown.text, **ACCOUNT)  # a form opened earlier
    assert late.status_code == 302 and late.headers["Location"] == "/admin/login"
    assert _staff() == [("someone@example.com", "owner")]


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"password": "short", "confirm": "short"}, "Field must be between 10 and 1024 characters long."),
        ({"confirm": "something else entirely"}, "The passwords don't match."),
        ({"email": "not an address"}, "doesn't look like an email address"),
    ],
)
def test_setup_explains_what_to_fix(app, client, setup_url, changes, message):
    shown = client.get(setup_url)
    response = submit_form(client, setup_url, shown.text, **{**ACCOUNT, **changes})
    assert response.status_code == 400 and message in page(response)
    assert _staff() == []
