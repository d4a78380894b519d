"""Behind a reverse proxy as the README configures it (PROXY_FIX_X_FOR read from the environment): limits, the
ledger, the opt-in evidence and staff sessions follow the client's address, never the proxy's or a forged one.

Every request here arrives from the proxy's address (REMOTE_ADDR 127.0.0.1) carrying the X-Forwarded-For an
nginx with `proxy_add_x_forwarded_for` would send: whatever the client wrote, then the address it connected
from.
"""

import uuid

import pytest
from sqlalchemy import select

from mailer.consent.models import ConsentEvent
from mailer.core.extensions import db
from tests.support.http import confirm_link, consent_values, csrf_token, form_timer
from tests.support.proxy import PROXY, app_config_from_environment, via_proxy
from tests.support.signup import BROWSER, contact_by_email, page, path_of

CLIENT_A, CLIENT_B, FORGED = "198.51.100.10", "198.51.100.20", "203.0.113.66"
MARKETER_PASSWORD = "a long passphrase nobody guesses 7"


def sign_up(client, email: str, **proxied):
    """Submit the demo form (its first box ticked) through the proxy."""
    data = {
        "email": email,
        "name": "Ann",
        "ts": form_timer(client),
        "website": "",
        "consent": consent_values(client)[:1],
    }
    proxied["headers"] = {"User-Agent": BROWSER, **proxied["headers"]}
    return client.post("/f/demo", data=data, **proxied)


@pytest.fixture(autouse=True)
def behind_one_proxy(monkeypatch):
    """The app's settings come from config.py reading PROXY_FIX_X_FOR=1 from the environment."""
    app_config_from_environment(monkeypatch, PROXY_FIX_X_FOR="1")


def test_the_proxy_settings_come_from_the_environment(monkeypatch, tmp_path):
    from werkzeug.middleware.proxy_fix import ProxyFix

    from mailer import create_app

    url = f"sqlite:///{tmp_path}/x.db"
    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": url})
    assert isinstance(app.wsgi_app, ProxyFix)
    assert (app.wsgi_app.x_for, app.wsgi_app.x_proto, app.wsgi_app.x_host) == (1, 1, 0)

    app_config_from_environment(monkeypatch, PROXY_FIX_X_FOR="2", PROXY_FIX_X_PROTO="1", PROXY_FIX_X_HOST="1")
    app = create_app(
        {
            "MAILER_ENV": "production",
            "SECRET_KEY": "s" * 40,
            "MAILER_HASH_KEY": "h" * 40,
            "SQLALCHEMY_DATABASE_URI": url,
        }
    )
    assert (app.wsgi_app.x_for, app.wsgi_app.x_proto, app.wsgi_app.x_host) == (2, 1, 1)

    monkeypatch.delenv("PROXY_FIX_X_PROTO")
    monkeypatch.delenv("PROXY_FIX_X_HOST")
    app_config_from_environment(monkeypatch, PROXY_FIX_X_FOR="0")
    assert not isinstance(
        create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": url}).wsgi_app, ProxyFix
    )


def _create_marketer(app) -> None:
    """A staff member with a role that needs no second factor, created without leaving an app context pushed
    (requests would share its `g`: the user loaded once, the CSRF token of another client's session)."""
    from mailer.staff.accounts import create_staff

    with app.app_context():
        create_staff("marketer@example.com", MARKETER_PASSWORD, "marketer")
        db.session.commit()


def test_login_attempts_are_limited_per_client_not_for_the_whole_site(app, client):
    _create_marketer(app)
    form = csrf_token(client.get("/admin/login", **via_proxy(CLIENT_A)).text)
    answers = [
        client.post(
            "/admin/login",
            data={
                "email": f"x{n}-{uuid.uuid4().hex[:6]}@example.com",
                "password": "wrong password",
                "csrf_token": form,
            },
            **via_proxy(CLIENT_A),
        ).status_code
        for n in range(11)
    ]
    assert answers[:10] == [401] * 10 and answers[10] == 429

    browser_b = app.test_client()
    other = csrf_token(browser_b.get("/admin/login", **via_proxy(CLIENT_B)).text)
    response = browser_b.post(
        "/admin/login",
        data={"email": "marketer@example.com", "password": MARKETER_PASSWORD, "csrf_token": other},
        **via_proxy(CLIENT_B),
    )
    assert response.status_code == 302
    forged = client.post(
        "/admin/login",
        data={"email": "y@example.com", "password": "wrong", "csrf_token": form},
        **via_proxy(CLIENT_A, forged=CLIENT_B),
    )
    assert forged.status_code == 429, (
        "a client escaped its limit by writing another address into X-Forwarded-For"
    )


@pytest.mark.config(SIGNUP_RATE_LIMIT_IP="2 per 10 minutes", SIGNUP_RATE_LIMIT_ADDRESS="100 per hour")
def test_sign_ups_are_limited_per_client(client, demo_form):
    answers = [sign_up(client, f"a{n}@example.com", **via_proxy(CLIENT_A)).status_code for n in range(3)]
    assert answers[:2] != [429, 429] and answers[2] == 429
    assert sign_up(client, "b@example.com", **via_proxy(CLIENT_B)).status_code != 429
    assert (
        sign_up(client, "c@example.com", **via_proxy(CLIENT_A, forged=CLIENT_B + ", 192.0.2.1")).status_code
        == 429
    )


def test_preference_link_requests_are_limited_per_client(client, demo_form):
    answers = [
        client.post("/p", data={"email": f"p{n}@example.com"}, **via_proxy(CLIENT_A)).status_code
        for n in range(11)
    ]
    assert answers[:10] == [200] * 10 and answers[10] == 429
    assert client.post("/p", data={"email": "q@example.com"}, **via_proxy(CLIENT_B)).status_code == 200


def test_ledger_and_opt_in_evidence_record_the_clients_address(app, auth, demo_form, worker, smtp_server):
    response = sign_up(auth, "ann@example.com", **via_proxy(CLIENT_A, forged=FORGED))
    assert response.status_code == 200
    worker.drain()
    [received] = smtp_server.to("ann@example.com")
    base = app.config["MAILER_BASE_URL"]
    confirm = path_of(confirm_link(received.data, base), base)
    assert auth.post(confirm, **via_proxy(CLIENT_B, forged=FORGED)).status_code == 200

    contact = contact_by_email("ann@example.com")
    recorded = dict(
        db.session.execute(
            select(ConsentEvent.action, ConsentEvent.ip).where(ConsentEvent.contact_id == contact.id)
        ).all()
    )
    assert recorded["requested"] == CLIENT_A and recorded["confirmed"] == CLIENT_B
    evidence = page(auth.get(f"/admin/contacts/{contact.public_id}/evidence"))
    assert CLIENT_A in evidence and CLIENT_B in evidence
    assert PROXY not in evidence and FORGED not in evidence


def test_a_client_bypassing_the_proxy_is_trusted_for_the_configured_hops_only(app, client, demo_form):
    """One trusted hop means the last X-Forwarded-For entry is taken from whoever connects: what a client
    wrote before it never counts, and gunicorn must be reachable by the proxy alone (the README binds it to
    loopback)."""
    direct = {"environ_base": {"REMOTE_ADDR": "192.0.2.9"}}
    assert (
        sign_up(
            client, "ann@example.com", headers={"X-Forwarded-For": f"{FORGED}, {CLIENT_A}"}, **direct
        ).status_code
        == 200
    )
    assert sign_up(client, "bob@example.com", headers={}, **direct).status_code == 200
    rows = (
        db.session.execute(
            select(ConsentEvent.ip).where(ConsentEvent.action == "requested").order_by(ConsentEvent.id)
        )
        .scalars()
        .all()
    )
    assert rows == [CLIENT_A, "192.0.2.9"]


def test_a_stolen_session_cookie_with_a_forged_address_is_refused(app, client):
    """ "Strong" session protection binds the session to the
    client's address as resolved from the trusted hop."""
    _create_marketer(app)
    agent = {"User-Agent": "StaffBrowser/1.0"}
    page_a = client.get("/admin/login", **via_proxy(CLIENT_A, headers=agent))
    assert (
        client.post(
            "/admin/login",
            data={
                "email": "marketer@example.com",
                "password": MARKETER_PASSWORD,
                "csrf_token": csrf_token(page_a.text),
            },
            **via_proxy(CLIENT_A, headers=agent),
        ).status_code
        == 302
    )
    assert client.get("/admin/", **via_proxy(CLIENT_A, headers=agent)).status_code == 200

    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value, domain="localhost")
    stolen = thief.get("/admin/", **via_proxy(CLIENT_B, forged=CLIENT_A, headers=agent))
    assert stolen.status_code == 302 and "/admin/login" in stolen.headers["Location"]
    assert client.get("/admin/", **via_proxy(CLIENT_A, headers=agent)).status_code == 200


def test_over_https_the_admin_sends_a_same_origin_referrer_and_the_csrf_referrer_check_stays_on(
    client, staff_user
):
    """Behind TLS (X-Forwarded-Proto: https) Flask-WTF refuses a POST without a same-origin Referer: the
    admin's pages must let the browser send one, recipients' pages must not send their token URLs anywhere."""
    secure = {"X-Forwarded-Proto": "https"}
    login_page = client.get("/admin/login", **via_proxy(CLIENT_A, headers=secure))
    assert login_page.headers["Referrer-Policy"] == "same-origin"
    assert login_page.headers["Strict-Transport-Security"].startswith("max-age=")
    data = {
        "email": "owner@example.com",
        "password": "correct horse battery",
        "csrf_token": csrf_token(login_page.text),
    }
    refused = client.post("/admin/login", data=data, **via_proxy(CLIENT_A, headers=secure))
    assert refused.status_code == 400 and "reload" in refused.text
    elsewhere = {**secure, "Referer": "https://evil.example/admin/login"}
    assert client.post("/admin/login", data=data, **via_proxy(CLIENT_A, headers=elsewhere)).status_code == 400
    same_origin = {**secure, "Referer": "https://localhost/admin/login"}
    assert (
        client.post("/admin/login", data=data, **via_proxy(CLIENT_A, headers=same_origin)).status_code == 302
    )

    for path in ("/p", "/f/demo", "/privacy", "/u/not-a-token", "/confirm/not-a-token", "/t/o/not-a-token"):
        response = client.get(path, **via_proxy(CLIENT_A, headers=secure))
        assert response.headers["Referrer-Policy"] == "no-referrer", path
