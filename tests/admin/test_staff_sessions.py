"""Server-side staff sessions: logout really ends a session,
"log out everywhere", the list of one's sessions."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.core.extensions import db
from mailer.staff.accounts import create_staff
from mailer.staff.models.security import StaffSession
from tests.support.http import csrf_token, login
from tests.support.signup import page

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Safari/537.36"
)
PASSWORD = "correct horse battery"


@pytest.fixture
def owner(app):
    """The owner account (created outside any request: each browser below gets its own CSRF token)."""
    with app.app_context():
        create_staff("owner@example.com", PASSWORD, "owner")
        db.session.commit()


def _query(app, statement):
    with app.app_context():
        return db.session.execute(statement).scalars().all()


def _text(response) -> str:
    """The words of a page, tags removed and spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", page(response)).split())


def _browser(app, user_agent: str):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    return client


def _logged_out(client) -> bool:
    response = client.get("/admin/lists")
    return response.status_code == 302 and response.headers["Location"].startswith("/admin/login")


def _cookie_copy(app, client):
    """Another client holding a copy of this one's session cookie and user agent (as a thief would)."""
    thief = _browser(app, client.environ_base["HTTP_USER_AGENT"])
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def test_a_cookie_copied_before_logout_stops_working(app, owner):
    browser = _browser(app, FIREFOX)
    login(browser, "owner@example.com", PASSWORD)
    thief = _cookie_copy(app, browser)
    assert thief.get("/admin/lists").status_code == 200  # the copy works while the session lives

    browser.post("/admin/logout", data={"csrf_token": csrf_token(browser.get("/admin/").text)})
    assert _logged_out(browser)
    assert _logged_out(thief)


def test_log_out_everywhere_ends_every_session(app, owner):
    laptop, phone = _browser(app, FIREFOX), _browser(app, CHROME)
    login(laptop, "owner@example.com", PASSWORD)
    login(phone, "owner@example.com", PASSWORD)
    shown = laptop.get("/admin/account")
    assert shown.status_code == 200
    response = laptop.post("/admin/account/sessions/end-all", data={"csrf_token": csrf_token(shown.text)})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/login"
    assert "You have been logged out everywhere." in page(laptop.get("/admin/login"))
    assert _logged_out(laptop) and _logged_out(phone)
    assert "staff.sessions_end" in [e.action for e in _query(app, select(AuditEvent))]


def test_the_account_page_lists_sessions_and_ends_one(app, owner):
    laptop, phone = _browser(app, FIREFOX), _browser(app, CHROME)
    login(laptop, "owner@example.com", PASSWORD)
    login(phone, "owner@example.com", PASSWORD)
    listing = laptop.get("/admin/account")
    text = _text(listing)
    assert "Firefox on Linux this browser" in text and "Chrome on Windows" in text
    assert "127.0.0.1" not in text and "no IP address" in text
    [phone_session] = _query(app, select(StaffSession).where(StaffSession.client == "Chrome on Windows"))
    ended = laptop.post(
        f"/admin/account/sessions/{phone_session.public_id}/end",
        data={"csrf_token": csrf_token(listing.text)},
        follow_redirects=True,
    )
    assert "Session ended (Chrome on Windows)." in page(ended) and "Chrome on Windows" not in _text(
        ended
    ).replace("Session ended (Chrome on Windows).", "")
    assert _logged_out(phone)
    assert laptop.get("/admin/lists").status_code == 200


def test_nobody_ends_someone_else_s_session(app, owner):
    with app.app_context():
        create_staff("marketer@example.com", PASSWORD, "marketer")
        db.session.commit()
    owner, marketer = _browser(app, FIREFOX), _browser(app, CHROME)
    login(owner, "owner@example.com", PASSWORD)
    login(marketer, "marketer@example.com", PASSWORD)
    [owner_session] = _query(app, select(StaffSession).where(StaffSession.client == "Firefox on Linux"))
    response = marketer.post(
        f"/admin/account/sessions/{owner_session.public_id}/end",
        data={"csrf_token": csrf_token(marketer.get("/admin/account").text)},
        follow_redirects=True,
    )
    assert "That session has already ended." in page(response)
    assert owner.get("/admin/lists").status_code == 200


def test_a_password_change_ends_the_other_sessions(app, owner):
    laptop, phone = _browser(app, FIREFOX), _browser(app, CHROME)
    login(laptop, "owner@example.com", PASSWORD)
    login(phone, "owner@example.com", PASSWORD)
    token = csrf_token(laptop.get("/admin/account").text)
    weak = laptop.post(
        "/admin/account/password",
        data={"csrf_token": token, "current": PASSWORD, "password": "aaaaaaaaaa", "confirm": "aaaaaaaaaa"},
    )
    assert weak.status_code == 400 and 'Repeats like "aaa" are easy to guess.' in page(weak)
    wrong = laptop.post(
        "/admin/account/password",
        data={
            "csrf_token": token,
            "current": "not my password",
            "password": "plum violin tuesday",
            "confirm": "plum violin tuesday",
        },
    )
    assert wrong.status_code == 400 and "Your current password is not right." in page(wrong)
    assert not _logged_out(phone)

    changed = laptop.post(
        "/admin/account/password",
        data={
            "csrf_token": token,
            "current": PASSWORD,
            "password": "plum violin tuesday",
            "confirm": "plum violin tuesday",
        },
        follow_redirects=True,
    )
    assert "Password changed. You were logged out everywhere else." in page(changed)
    assert _logged_out(phone)
    assert laptop.get("/admin/lists").status_code == 200
    again = _browser(app, CHROME)
    login(again, "owner@example.com", "plum violin tuesday")
    assert again.get("/admin/lists").status_code == 200


def test_an_idle_session_ends_by_itself(app, owner):
    browser = _browser(app, FIREFOX)
    login(browser, "owner@example.com", PASSWORD)
    with app.app_context():
        record = db.session.execute(select(StaffSession)).scalar_one()
        record.last_seen_at -= timedelta(seconds=app.config["STAFF_SESSION_MAX_AGE"] + 60)
        db.session.commit()
    assert _logged_out(browser)
    assert _query(app, select(StaffSession))[0].ended_at is not None


def test_deactivating_an_account_ends_its_sessions_for_good(app, owner):
    with app.app_context():
        create_staff("mia@example.com", PASSWORD, "marketer")
        db.session.commit()
    mia, boss = _browser(app, CHROME), _browser(app, FIREFOX)
    login(mia, "mia@example.com", PASSWORD)
    login(boss, "owner@example.com", PASSWORD)
    with app.app_context():
        mia_id = db.session.execute(
            select(StaffSession.user_id).where(StaffSession.client == "Chrome on Windows")
        ).scalar_one()
    staff_page = boss.get("/admin/staff")
    assert "Second factor" in staff_page.text and "authenticator app" in _text(staff_page)
    token = csrf_token(staff_page.text)
    boss.post(f"/admin/staff/{mia_id}/active", data={"csrf_token": token})  # deactivate
    assert _logged_out(mia)
    boss.post(f"/admin/staff/{mia_id}/active", data={"csrf_token": token})  # and reactivate
    assert _logged_out(mia)  # her old cookie stays dead; she logs in again
    login(mia, "mia@example.com", PASSWORD)
    assert mia.get("/admin/lists").status_code == 200
