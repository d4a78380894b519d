"""Helpers for driving the app through its HTTP interface as a person would."""

import quopri
import re
from urllib.parse import urlsplit

from tests.support.authenticator import AUTHENTICATOR

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


def login(client, email: str, password: str):
    """Log in through the real login form, then pass the second factor as the person would.

    An account with a second factor answers the password with the code step: the helper types a fresh code
    from its authenticator (tests/support/authenticator.py). A role that needs a second factor but has none is
    sent to enrolment: the helper reads the key from the page, confirms a code and keeps the recovery codes.
    Returns the answer to the password form.
    """
    page = client.get("/admin/login")
    response = client.post(
        "/admin/login", data={"email": email, "password": password, "csrf_token": csrf_token(page.text)}
    )
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    if location.path == "/admin/login/verify":
        pass_second_factor(client, email)
        return response
    landing = client.get(response.headers["Location"])
    if (
        landing.status_code == 302
        and urlsplit(landing.headers["Location"]).path == "/admin/account/two-factor"
    ):
        enrol_totp(client, email, landing.headers["Location"])
    return response


class RequestsClient:
    """A requests session driven like Flask's test client (paths, redirects not followed), so login() and the
    second-factor helpers also work against a real server."""

    def __init__(self, session, base: str):
        self.session, self.base = session, base.rstrip("/")

    def _url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base + path

    def get(self, path: str, **kwargs):
        return self.session.get(self._url(path), allow_redirects=False, timeout=10, **kwargs)

    def post(self, path: str, data=None, **kwargs):
        return self.session.post(self._url(path), data=data, allow_redirects=False, timeout=10, **kwargs)


def enrol_totp(client, email: str, url: str = "/admin/account/two-factor"):
    """Set up the authenticator app from the enrolment page; returns the page showing the recovery codes."""
    page = client.get(url)
    assert page.status_code == 200, page.text
    AUTHENTICATOR.add_from_page(email, page.text)
    step, code = AUTHENTICATOR.fresh(email)
    done = client.post(url, data={"code": code, "csrf_token": csrf_token(page.text)})
    assert done.status_code == 200 and "Your recovery codes" in done.text, done.text
    AUTHENTICATOR.used(email, step)
    AUTHENTICATOR.keep_recovery_codes(email, done.text)
    return done


def pass_second_factor(client, email: str):
    """Answer the second login step with a fresh authenticator code (a recovery code if none is left)."""
    token = csrf_token(client.get("/admin/login/verify").text)
    for step, code in AUTHENTICATOR.codes(email):
        response = client.post("/admin/login/verify", data={"code": code, "csrf_token": token})
        if response.status_code == 302:
            AUTHENTICATOR.used(email, step)
            return response
    response = client.post(
        "/admin/login/verify", data={"code": AUTHENTICATOR.take_recovery_code(email), "csrf_token": token}
    )
    assert response.status_code == 302, response.text
    return response


def form_timer(client, slug: str = "demo") -> str:
    """The fill-timer token of a hosted form, as a browser would submit it."""
    page = client.get(f"/f/{slug}")
    return re.search(r'name="ts" value="([^"]+)"', page.text).group(1)


def consent_values(client, slug: str = "demo") -> list[str]:
    """The checkbox values a form offers, in page order."""
    return re.findall(r'name="consent" value="([^"]+)"', client.get(f"/f/{slug}").text)


def confirm_link(raw_message: bytes, base: str) -> str:
    """The confirmation URL inside a raw message's text part."""
    text = quopri.decodestring(raw_message).decode("utf-8", errors="replace")
    match = re.search(re.escape(base) + r"/confirm/[A-Za-z0-9_.\-]+", text)
    assert match, "no confirmation link in the message"
    return match.group(0)


def staff_client(app, role: str, password: str = "correct horse battery"):
    """A test client logged in as a new `<role>-staff@example.com` account. The account is created in its own
    app context and requests run outside the test's, so each has its own `g`, as in a real server."""
    from mailer.core.extensions import db
    from mailer.staff.accounts import create_staff

    email = f"{role}-staff@example.com"
    with app.app_context():
        create_staff(email, password, role)
        db.session.commit()
    client = app.test_client()
    login(client, email, password)
    return client
