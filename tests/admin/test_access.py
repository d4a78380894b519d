"""The admin's front door: login on every page, one answer
for wrong credentials, CSRF, safe redirects, headers."""

import re
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter

from mailer.core.extensions import db
from mailer.staff.accounts import create_staff
from mailer.subscriptions.models.lists import MailingList
from tests.support.http import csrf_token, login
from tests.support.signup import page

OPEN = {
    "admin.login",
    "admin.setup",
    "admin.static",
    "admin.invite_accept",  # the invite's signed link is the proof
    # The second login step: only for someone who has just given the right password
    # (tests/admin/test_two_factor.py)
    "admin.login_verify",
    "admin.login_passkey_options",
    "admin.login_passkey",
}


def _admin_urls(app, method: str) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin.") or rule.endpoint in OPEN or method not in rule.methods:
            continue
        values = {
            arg: 1 if isinstance(rule._converters.get(arg), IntegerConverter) else "x1"
            for arg in rule.arguments
        }
        urls.append(rule.build(values, append_unknown=False)[1])
    return sorted(urls)


def _goes_to_login(response, wanted: str) -> bool:
    location = urlsplit(urljoin("http://localhost/", response.headers.get("Location", "")))
    return response.status_code == 302 and location.path == "/admin/login" and wanted in location.query


def test_every_admin_page_needs_a_login(app, client):
    urls = _admin_urls(app, "GET")
    assert len(urls) >= 10 and "/admin/" in urls and "/admin/outbox" in urls
    for url in urls:
        response = client.get(url)
        assert _goes_to_login(response, "next="), f"GET {url} → {response.status_code}"


def test_every_admin_action_needs_a_login(app, app_ctx, client):
    token = csrf_token(client.get("/admin/login").text)  # even with a valid CSRF token
    for url in _admin_urls(app, "POST"):
        response = client.post(url, data={"csrf_token": token, "name": "Sneaky"})
        assert _goes_to_login(response, ""), f"POST {url} → {response.status_code}"
    assert db.session.execute(select(func.count()).select_from(MailingList)).scalar_one() == 0


def test_login_returns_to_the_page_asked_for(app, client, staff_user):
    asked = client.get("/admin/lists?status=x")
    assert _goes_to_login(asked, "next=")
    response = client.post(
        asked.headers["Location"],
        data={
            "email": "owner@example.com",
            "password": "correct horse battery",
            "csrf_token": csrf_token(client.get("/admin/login").text),
        },
    )
    assert response.status_code == 302 and response.headers["Location"] == "/admin/lists?status=x"


OFF_SITE = [
    "//evil.example/",
    "https://evil.example/admin/",
    "http:evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    " //evil.example",
    "javascript:alert(1)",
    "///evil.example",
    "/%2F/evil.example",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_login_next_cannot_leave_the_site(app, client, staff_user, target):
    response = client.post(
        "/admin/login",
        query_string={"next": target},
        data={
            "email": "owner@example.com",
            "password": "correct horse battery",
            "csrf_token": csrf_token(client.get("/admin/login").text),
        },
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    # What a browser does with the header: drop tabs and newlines, trim, resolve against the page.
    resolved = urlsplit(urljoin("http://localhost/admin/login", re.sub(r"[\t\n\r]", "", location).strip()))
    assert resolved.scheme == "http" and resolved.netloc == "localhost", location
    assert not resolved.path.startswith("//"), location


def _login_page_message(client, email, password) -> tuple[int, str]:
    response = client.post(
        "/admin/login",
        data={
            "email": email,
            "password": password,
            "csrf_token": csrf_token(client.get("/admin/login").text),
        },
    )
    alerts = re.findall(r'role="alert">([^<]*)<', page(response))
    return response.status_code, " | ".join(alerts)


def test_wrong_password_and_unknown_account_get_the_same_answer(app, client, staff_user):
    create_staff("gone@example.com", "correct horse battery", "admin").active = False
    db.session.commit()
    known = _login_page_message(client, "owner@example.com", "wrong horse battery")
    unknown = _login_page_message(client, "nobody@example.com", "wrong horse battery")
    disabled = _login_page_message(client, "gone@example.com", "correct horse battery")
    assert known == unknown == disabled == (401, "Wrong email or password.")
    assert client.get("/admin/").status_code == 302  # still logged out


def test_staff_forms_need_a_csrf_token(app, auth):
    for url, data in [
        ("/admin/lists/new", {"name": "Forged list", "visibility": "public"}),
        ("/admin/forms/new", {"name": "Forged", "slug": "forged"}),
        ("/admin/logout", {}),
    ]:
        response = auth.post(url, data=data)
        assert response.status_code == 400, url
        assert "Your session expired or the form was already used." in page(response)
    assert db.session.execute(select(func.count()).select_from(MailingList)).scalar_one() == 0
    assert auth.get("/admin/").status_code == 200  # the forged logout did not log out

    forged_token = auth.post("/admin/lists/new", data={"name": "Forged list", "csrf_token": "not-a-token"})
    assert forged_token.status_code == 400


def test_login_form_needs_a_csrf_token(app, client, staff_user):
    response = client.post(
        "/admin/login", data={"email": "owner@example.com", "password": "correct horse battery"}
    )
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_logout_ends_the_session(app, auth):
    token = csrf_token(auth.get("/admin/").text)
    response = auth.post("/admin/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/login"
    assert "You have been logged out." in page(auth.get("/admin/login"))
    assert _goes_to_login(auth.get("/admin/"), "next=")


def _assert_admin_headers(response):
    headers = response.headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "unsafe-eval" not in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert (
        headers["Referrer-Policy"] == "same-origin"
    )  # over HTTPS the CSRF check needs a same-origin Referer
    assert headers["Cache-Control"] == "no-store"


def test_admin_pages_send_security_headers(app, auth, demo_form):
    for url in (
        "/admin/",
        "/admin/lists",
        "/admin/contacts",
        "/admin/forms",
        f"/admin/forms/{demo_form.public_id}",
        "/admin/outbox",
    ):
        response = auth.get(url)
        assert response.status_code == 200, url
        _assert_admin_headers(response)


def test_login_page_sends_security_headers_and_a_safe_cookie(app, client, staff_user):
    _assert_admin_headers(client.get("/admin/login"))
    login_response = client.post(
        "/admin/login",
        data={
            "email": "owner@example.com",
            "password": "correct horse battery",
            "csrf_token": csrf_token(client.get("/admin/login").text),
        },
    )
    cookie = login_response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_hosted_form_may_be_framed_but_only_where_allowed(app, client, demo_form):
    open_form = client.get("/f/demo")
    assert "X-Frame-Options" not in open_form.headers
    assert open_form.headers["Content-Security-Policy"].endswith("frame-ancestors 'self' *")
    demo_form.allowed_origins = "https://shop.example"
    db.session.commit()
    restricted = client.get("/f/demo")
    assert restricted.headers["Content-Security-Policy"].endswith(
        "frame-ancestors 'self' https://shop.example"
    )


def test_an_unknown_admin_page_is_a_friendly_404(app, auth):
    response = auth.get("/admin/lists/no-such-list")
    assert response.status_code == 404 and "We couldn't find that page." in page(response)


def test_login_as_created_by_login_helper_works(app, client, staff_user):
    login(client, "owner@example.com", "correct horse battery")
    assert client.get("/admin/").status_code == 200


def test_retry_after_is_sent_only_when_a_request_is_refused(app, client, staff_user):
    answers = [
        client.post(
            "/admin/login",
            data={
                "email": "owner@example.com",
                "password": "wrong horse battery",
                "csrf_token": csrf_token(client.get("/admin/login").text),
            },
        )
        for _ in range(11)
    ]
    assert [r.status_code for r in answers] == [401] * 10 + [429]
    assert all("Retry-After" not in r.headers for r in answers[:10])
    assert answers[0].headers["X-RateLimit-Limit"] == "10"  # the limit is still announced
    assert int(answers[-1].headers["Retry-After"]) > 0
    assert "Too many attempts" in page(answers[-1])
