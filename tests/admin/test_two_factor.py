"""TOTP second factor with recovery codes: required for roles that can export or reveal personal data,
optional for others; codes are single-use within their window; removing the app needs a fresh code."""

import re
import time

import pyotp
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from mailer.admin.permissions import allowed
from mailer.audit.models import AuditEvent
from mailer.contacts.keys import master_keys
from mailer.core.extensions import db
from mailer.staff.accounts import create_staff
from mailer.staff.models.accounts import ROLES, ROLES_NEEDING_SECOND_FACTOR, StaffUser
from tests.support.authenticator import AUTHENTICATOR, KEY_RE
from tests.support.http import csrf_token, enrol_totp, login
from tests.support.signup import page

PASSWORD = "correct horse battery"


def _create(app, email: str, role: str):
    with app.app_context():
        create_staff(email, PASSWORD, role)
        db.session.commit()


def _password_step(client, email: str, password: str = PASSWORD):
    token = csrf_token(client.get("/admin/login").text)
    return client.post("/admin/login", data={"email": email, "password": password, "csrf_token": token})


def _code_step(client, code: str):
    token = csrf_token(client.get("/admin/login/verify").text)
    return client.post("/admin/login/verify", data={"code": code, "csrf_token": token})


def _user(app, email: str) -> StaffUser:
    with app.app_context():
        user = db.session.execute(select(StaffUser).where(StaffUser.email == email)).scalar_one()
        db.session.expunge(user)
        return user


def test_the_roles_that_can_export_or_reveal_are_the_ones_that_need_a_second_factor():
    can_export_or_reveal = {
        role
        for role in ROLES
        if allowed(role, "admin.privacy_contact_reveal", "POST")
        or allowed(role, "admin.audit_export")
        or allowed(role, "admin.privacy_request_export")
        or allowed(role, "admin.contact_export")
    }
    assert can_export_or_reveal == set(ROLES_NEEDING_SECOND_FACTOR) == {"owner", "admin", "privacy"}


@pytest.mark.parametrize("role", ["owner", "admin", "privacy"])
def test_required_roles_can_use_nothing_before_enrolling(app, client, role):
    _create(app, f"{role}@example.com", role)
    assert _password_step(client, f"{role}@example.com").status_code == 302
    for url in ("/admin/", "/admin/contacts", "/admin/audit", "/admin/account"):
        held = client.get(url)
        assert held.status_code == 302 and held.headers["Location"].startswith("/admin/account/two-factor"), (
            url
        )
    token = csrf_token(client.get("/admin/account/two-factor").text)
    posted = client.post(
        "/admin/account/password",
        data={
            "csrf_token": token,
            "current": PASSWORD,
            "password": "plum violin tuesday",
            "confirm": "plum violin tuesday",
        },
    )
    assert posted.status_code == 302 and "/admin/account/two-factor" in posted.headers["Location"]
    assert _user(app, f"{role}@example.com").check_password(PASSWORD)  # nothing changed
    shown = client.get("/admin/account/two-factor?next=/admin/contacts")
    text = page(shown)
    named = {"privacy": "privacy officer"}.get(role, role)  # the role's name, as the account page says it
    assert shown.status_code == 200 and f"Your role ({named}) can see and export personal data" in " ".join(
        re.sub(r"<[^>]+>", "", text).split()
    )
    assert 'href="/admin/contacts"' not in shown.text  # no menu leading to pages that would send them back
    assert "<svg" in shown.text and "QR code of your authenticator key" in text
    key = KEY_RE.search(shown.text).group(1).replace(" ", "")
    wrong = client.post(
        "/admin/account/two-factor?next=/admin/contacts", data={"csrf_token": token, "code": "000000"}
    )
    assert wrong.status_code == 400 and "That code is not right." in page(wrong)
    done = client.post(
        "/admin/account/two-factor?next=/admin/contacts",
        data={"csrf_token": token, "code": pyotp.TOTP(key).now()},
    )
    assert done.status_code == 200 and "shown only this time" in page(done)
    assert len(re.findall(r"<li>[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}</li>", done.text)) == 10
    assert 'href="/admin/contacts"' in done.text
    assert client.get("/admin/contacts").status_code == 200


def test_optional_roles_are_not_held_and_may_enrol(app, client):
    _create(app, "mia@example.com", "marketer")
    login(client, "mia@example.com", PASSWORD)
    assert client.get("/admin/lists").status_code == 200
    assert "Not set up." in page(client.get("/admin/account"))
    enrol_totp(client, "mia@example.com")
    client.post("/admin/logout", data={"csrf_token": csrf_token(client.get("/admin/").text)})
    step = _password_step(client, "mia@example.com")
    assert step.status_code == 302 and step.headers["Location"] == "/admin/login/verify"
    assert client.get("/admin/lists").status_code == 302  # a password alone is not a login any more


def test_totp_login_refuses_wrong_and_replayed_codes(app, client):
    _create(app, "owner@example.com", "owner")
    login(client, "owner@example.com", PASSWORD)  # enrols, as the first login of an owner must
    key = AUTHENTICATOR.keys["owner@example.com"]
    stored = _user(app, "owner@example.com")
    assert key.encode() not in stored.totp_secret  # sealed at rest under MAILER_DATA_KEYS
    with app.app_context():
        assert master_keys().decrypt(stored.totp_secret).decode() == key

    laptop = app.test_client()
    assert _password_step(laptop, "owner@example.com").headers["Location"] == "/admin/login/verify"
    assert laptop.get("/admin/lists").status_code == 302
    wrong = _code_step(laptop, "123456" if pyotp.TOTP(key).now() != "123456" else "654321")
    assert wrong.status_code == 400 and "That code is not right." in page(wrong)
    totp = pyotp.TOTP(key)
    code = totp.at(time.time() + 30)  # the next window's code (one step of clock drift is allowed)
    assert _code_step(laptop, code).status_code == 302
    assert laptop.get("/admin/lists").status_code == 200

    phone = app.test_client()  # the same code a moment later, from someone who saw it
    _password_step(phone, "owner@example.com")
    replay = _code_step(phone, code)
    assert replay.status_code == 400 and "That code is not right." in page(replay)
    older = _code_step(phone, totp.now())  # an older step than one already used cannot be used either
    assert older.status_code == 400
    assert phone.get("/admin/lists").status_code == 302


def test_a_recovery_code_works_once(app, client):
    _create(app, "dpo@example.com", "privacy")
    login(client, "dpo@example.com", PASSWORD)
    code = AUTHENTICATOR.recovery_codes["dpo@example.com"][0]
    first, second = app.test_client(), app.test_client()
    _password_step(first, "dpo@example.com")
    used = _code_step(first, code.upper())  # typed in capitals: still the same code
    assert used.status_code == 302
    assert "You used a recovery code; 9 left." in page(first.get("/admin/privacy"))
    _password_step(second, "dpo@example.com")
    again = _code_step(second, code)
    assert again.status_code == 400 and second.get("/admin/privacy").status_code == 302
    with app.app_context():
        actions = [e.action for e in db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]
    assert actions.count("staff.recovery_code_used") == 1


def test_new_recovery_codes_need_a_fresh_code_and_replace_the_old(app, client):
    _create(app, "owner@example.com", "owner")
    login(client, "owner@example.com", PASSWORD)
    old = AUTHENTICATOR.recovery_codes["owner@example.com"][0]
    token = csrf_token(client.get("/admin/account").text)
    refused = client.post("/admin/account/recovery-codes", data={"csrf_token": token, "code": "000000"})
    assert refused.status_code == 400 and "new recovery codes need a fresh code" in page(refused)
    step, code = AUTHENTICATOR.fresh("owner@example.com")
    fresh = client.post("/admin/account/recovery-codes", data={"csrf_token": token, "code": code})
    AUTHENTICATOR.used("owner@example.com", step)
    new_codes = AUTHENTICATOR.keep_recovery_codes("owner@example.com", fresh.text)
    assert len(new_codes) == 10 and old not in new_codes
    other = app.test_client()
    _password_step(other, "owner@example.com")
    assert _code_step(other, old).status_code == 400
    assert _code_step(other, new_codes[0]).status_code == 302


def test_removing_the_app_needs_a_fresh_code_and_is_refused_to_required_roles(app, client):
    _create(app, "owner@example.com", "owner")
    _create(app, "mia@example.com", "marketer")
    login(client, "owner@example.com", PASSWORD)
    token = csrf_token(client.get("/admin/account").text)
    _, code = AUTHENTICATOR.codes("owner@example.com")[0]
    refused = client.post("/admin/account/two-factor/remove", data={"csrf_token": token, "code": code})
    assert refused.status_code == 400 and "Your role (owner) needs a second factor" in page(refused)

    marketer = app.test_client()
    login(marketer, "mia@example.com", PASSWORD)
    enrol_totp(marketer, "mia@example.com")
    token = csrf_token(marketer.get("/admin/account").text)
    stale = marketer.post("/admin/account/two-factor/remove", data={"csrf_token": token, "code": "000000"})
    assert stale.status_code == 400 and "removing the app needs a fresh code" in page(stale)
    _step, code = AUTHENTICATOR.fresh("mia@example.com")
    removed = marketer.post(
        "/admin/account/two-factor/remove", data={"csrf_token": token, "code": code}, follow_redirects=True
    )
    assert "The authenticator app was removed." in page(removed) and "Not set up." in page(removed)
    assert _user(app, "mia@example.com").totp_secret is None


@pytest.mark.config(STAFF_LOCKOUT_THRESHOLD=3)
def test_wrong_codes_count_towards_the_lockout(app, client):
    _create(app, "owner@example.com", "owner")
    login(client, "owner@example.com", PASSWORD)
    guesser = app.test_client()
    _password_step(guesser, "owner@example.com")
    for guess in ("111111", "222222", "333333"):
        _code_step(guesser, guess)
    assert _user(app, "owner@example.com").locked_until is not None
    _, code = AUTHENTICATOR.codes("owner@example.com")[0]
    locked = _code_step(guesser, code)
    assert locked.status_code == 400 and "this account is locked until" in page(locked)
    assert "locked until" in page(client.get("/admin/staff"))  # a session from before the lock goes on


def test_the_second_step_needs_a_password_first(app, client):
    _create(app, "owner@example.com", "owner")
    token = csrf_token(client.get("/admin/login").text)
    for url in ("/admin/login/verify",):
        response = client.post(url, data={"csrf_token": token, "code": "123456"})
        assert response.status_code == 302 and response.headers["Location"] == "/admin/login"
    for url in ("/admin/login/passkey/options", "/admin/login/passkey"):
        response = client.post(url, data={"csrf_token": token}, headers={"Accept": "application/json"})
        assert response.status_code == 401 and response.json["error"] == "Please log in again."


OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.mark.config(MAILER_DATA_KEYS=[OLD_KEY])
def test_keys_reencrypt_moves_authenticator_secrets_to_the_newest_key(app, client):
    _create(app, "owner@example.com", "owner")
    login(client, "owner@example.com", PASSWORD)
    app.config["MAILER_DATA_KEYS"] = [NEW_KEY, OLD_KEY]
    result = app.test_cli_runner().invoke(args=["keys", "reencrypt"])
    assert result.exit_code == 0 and "1 authenticator secrets" in result.output, result.output
    app.config["MAILER_DATA_KEYS"] = [NEW_KEY]  # the old key is retired: the app still checks codes
    Fernet(NEW_KEY.encode()).decrypt(_user(app, "owner@example.com").totp_secret)
    login(app.test_client(), "owner@example.com", PASSWORD)


def test_the_operator_can_reset_a_lost_second_factor(app, client):
    _create(app, "owner@example.com", "owner")
    login(client, "owner@example.com", PASSWORD)
    result = app.test_cli_runner().invoke(args=["reset-second-factor", "Owner@Example.com"])
    assert result.exit_code == 0 and "Removed every second factor of owner@example.com" in result.output
    assert client.get("/admin/lists").status_code == 302  # their sessions ended
    again = app.test_client()
    assert (
        _password_step(again, "owner@example.com").headers["Location"] == "/admin/"
    )  # no second step to pass
    held = again.get("/admin/")
    assert held.status_code == 302 and held.headers["Location"].startswith("/admin/account/two-factor")
    missing = app.test_cli_runner().invoke(args=["reset-second-factor", "nobody@example.com"])
    assert missing.exit_code == 1 and "No staff account nobody@example.com." in missing.output


@pytest.mark.config(MAILER_DATA_KEYS=[])
def test_without_data_keys_in_production_set_up_explains_what_is_missing(app, client):
    app.config["MAILER_ENV"] = (
        "production"  # read when a secret is sealed; the rest of the app stays as tested
    )
    _create(app, "owner@example.com", "owner")
    _password_step(client, "owner@example.com")
    response = client.get("/admin/account/two-factor")
    assert response.status_code == 503
    assert "Setting up a second factor needs MAILER_DATA_KEYS on the server" in page(response)
    assert _user(app, "owner@example.com").totp_secret is None
