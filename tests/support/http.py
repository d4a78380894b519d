"""Helpers for driving the app through its HTTP interface as a person would."""
import re
import quopri

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


def login(client, email: str, password: str):
    """Log in through the real login form."""
    page = client.get("/admin/login")
    response = client.post("/admin/login", data={"email": email, "password": password,
                                                 "csrf_token": csrf_token(page.text)})
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
    """A test client logged in as a new `<role>-staff@example.com` account. The account is created in its own app
    context and requests run outside the test's, so each has its own `g`, as in a real server."""
    from mailer.extensions import db
    from mailer.services.staff import create_staff

    email = f"{role}-staff@example.com"
    with app.app_context():
        create_staff(email, password, role)
        db.session.commit()
    client = app.test_client()
    login(client, email, password)
    return client
