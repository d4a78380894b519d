"""Per-account lockout: wrong passwords from any address lock the account, longer each time, and its owner is
told by email; the login page answers the same for locked, wrong and unknown accounts, in the same time."""

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.staff.accounts import create_staff
from mailer.staff.models.accounts import StaffUser
from tests.support.http import csrf_token
from tests.support.signup import page
from tests.support.workers import drain

PASSWORD = "correct horse battery"
FAILED = "Wrong email or password."


def _attempt(client, email: str, password: str, ip: str):
    token = csrf_token(client.get("/admin/login", environ_base={"REMOTE_ADDR": ip}).text)
    return client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": ip},
    )


def _marketer(app):
    with app.app_context():
        create_staff("mia@example.com", PASSWORD, "marketer")
        db.session.commit()


def _account(app) -> StaffUser:
    with app.app_context():
        user = db.session.execute(select(StaffUser).where(StaffUser.email == "mia@example.com")).scalar_one()
        db.session.expunge(user)
        return user


@pytest.mark.config(STAFF_LOCKOUT_THRESHOLD=5, STAFF_LOCKOUT_SECONDS=60)
def test_wrong_passwords_from_many_addresses_lock_the_account_and_email_its_owner(
    app, client, smtp_server, worker
):
    _marketer(app)
    for i in range(5):  # one guess from each of five addresses: no per-IP limit is reached
        answer = _attempt(client, "mia@example.com", f"guess number {i}", f"198.51.100.{i + 1}")
        assert answer.status_code == 401 and FAILED in page(answer)
    locked = _account(app)
    assert locked.locked_until is not None
    assert timedelta(seconds=55) < locked.locked_until - utcnow() <= timedelta(seconds=60)

    right = _attempt(
        client, "mia@example.com", PASSWORD, "203.0.113.9"
    )  # even the right password, from elsewhere
    assert right.status_code == 401 and FAILED in page(right)
    assert client.get("/admin/lists").status_code == 302

    drain(app)
    [notice] = smtp_server.to("mia@example.com")
    message = notice.message
    assert message["Subject"] == "Your Mailer Demo mailing admin account was locked"
    body = message.get_body(("plain",)).get_content()
    assert "nobody can log in to it until" in " ".join(body.split()) and "change your password" in body
    with app.app_context():
        [event] = db.session.execute(select(AuditEvent).where(AuditEvent.action == "staff.lockout")).scalars()
        assert event.target_id == str(locked.id) and event.ip == "198.51.100.5"

    with app.app_context():  # the lock runs out
        db.session.get(StaffUser, locked.id).locked_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
    for i in range(5):  # locked again: the second lock lasts twice as long
        _attempt(client, "mia@example.com", f"another guess {i}", f"192.0.2.{i + 1}")
    again = _account(app)
    assert timedelta(seconds=115) < again.locked_until - utcnow() <= timedelta(seconds=120)
    drain(app)
    assert len(smtp_server.to("mia@example.com")) == 2

    with app.app_context():
        db.session.get(StaffUser, locked.id).locked_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert _attempt(client, "mia@example.com", PASSWORD, "203.0.113.9").status_code == 302
    cleared = _account(app)
    assert (cleared.failed_logins, cleared.lockouts, cleared.locked_until) == (0, 0, None)


@pytest.mark.config(STAFF_LOCKOUT_THRESHOLD=3)
def test_locked_wrong_and_unknown_accounts_answer_alike(app, client):
    _marketer(app)
    for i in range(3):
        _attempt(client, "mia@example.com", f"guess number {i}", f"198.51.100.{i + 1}")
    assert _account(app).locked_until is not None
    with app.app_context():
        create_staff("sam@example.com", PASSWORD, "marketer")
        db.session.commit()
    # The floor must exceed the real work (a password hash); on a busy machine that takes longer, so measure
    # it.
    started = time.perf_counter()
    _attempt(client, "sam@example.com", "warming up", "203.0.113.1")
    floor = max(0.15, (time.perf_counter() - started) * 3)
    app.config["STAFF_LOGIN_FLOOR_MS"] = int(floor * 1000)

    cases = {
        "locked, right password": ("mia@example.com", PASSWORD),
        "wrong password": ("sam@example.com", "nope nope"),
        "unknown address": ("nobody@example.com", PASSWORD),
    }
    timings = {}
    for attempt in range(2):  # the fastest of a few tries: a busy machine stalls single requests at random
        for name, (email, password) in cases.items():
            ip = f"203.0.113.{10 + attempt * 3 + len(timings)}"
            token = csrf_token(client.get("/admin/login", environ_base={"REMOTE_ADDR": ip}).text)
            started = time.perf_counter()
            answer = client.post(
                "/admin/login",
                data={"email": email, "password": password, "csrf_token": token},
                environ_base={"REMOTE_ADDR": ip},
            )
            timings[name] = min(timings.get(name, 99), time.perf_counter() - started)
            assert answer.status_code == 401 and FAILED in page(answer), name
    assert all(t >= floor for t in timings.values()), (floor, timings)
    assert max(timings.values()) - min(timings.values()) < 0.150, (floor, timings)
