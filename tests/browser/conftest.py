"""Helpers shared by the browser tests: logging in, the admin's snippet, screenshots, link checks."""

import html
import os
import re
import tempfile
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.support.accessibility import accessibility_violations
from tests.support.authenticator import AUTHENTICATOR
from tests.support.http import login

SHOTS = os.environ.get("MAILER_SHOTS_DIR", os.path.join(tempfile.gettempdir(), "shots"))
STAFF_EMAIL = "owner@example.com"
STAFF_PASSWORD = "correct horse battery"


def shoot(page: Page, name: str, full_page: bool = True) -> None:
    """Keep a screenshot for a human to look at (never committed)."""
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=f"{SHOTS}/{name}.png", full_page=full_page, animations="disabled")


def admin_snippet(app, public_id: str) -> str:
    """The copy-paste snippet exactly as the admin's form page shows it in its textarea."""
    client = app.test_client()
    login(client, STAFF_EMAIL, STAFF_PASSWORD)
    page = client.get(f"/admin/forms/{public_id}")
    assert page.status_code == 200
    match = re.search(r'<textarea id="snippet"[^>]*>(.*?)</textarea>', page.text, re.S)
    assert match, "no snippet on the form page"
    return html.unescape(match.group(1))


def keyboard_login(page: Page, email: str = STAFF_EMAIL, password: str = STAFF_PASSWORD) -> None:
    """Log in with the keyboard only: the address field has focus, Tab to the password, Enter submits."""
    page.goto("/admin/login")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    dashboard = page.get_by_role("heading", name="Dashboard", exact=True)
    second_step = page.get_by_role("heading", name="Confirm it's you")
    enrolment = page.get_by_role("heading", name="Set up your authenticator app")
    expect(dashboard.or_(second_step).or_(enrolment)).to_be_visible()
    if enrolment.is_visible():
        keyboard_enrol(page, email)
    elif second_step.is_visible():
        keyboard_second_factor(page, email)
    expect(dashboard).to_be_visible()
    # The heading is there while the page's stylesheets may still be on their way (a submitted form is no
    # goto, which would wait): a layout measured then is Bootstrap's alone (the navigation overflowed by
    # 135 px with app.css held back), so the page's load is waited for.
    page.wait_for_load_state("load")


def assert_accessible(page: Page) -> None:
    """axe-core finds no violation on the page as it is now."""
    violations = accessibility_violations(page)
    assert not violations, "\n".join(violations)


def keyboard_enrol(page: Page, email: str, check_accessible: bool = False) -> None:
    """Set up the authenticator app as a person does: key into
    the app, its code typed back, recovery codes kept."""
    AUTHENTICATOR.add(email, page.locator("#manual-key").inner_text())
    expect(page.get_by_label("6-digit code from the app")).to_be_focused()
    step, code = AUTHENTICATOR.fresh(email)
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    AUTHENTICATOR.used(email, step)
    AUTHENTICATOR.recovery_codes[email] = page.locator("#recovery-codes li").all_inner_texts()
    if check_accessible:
        assert_accessible(page)
    page.get_by_role("link", name="I have kept them — continue").focus()
    page.keyboard.press("Enter")


def keyboard_second_factor(page: Page, email: str) -> None:
    """Type a fresh code from the authenticator at the second login step."""
    expect(page.get_by_label("Code")).to_be_focused()
    step, code = AUTHENTICATOR.fresh(email)
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    AUTHENTICATOR.used(email, step)


class LinkChecker:
    """Follows every same-origin link of the pages it is shown (each URL once) and records failures."""

    def __init__(self, page: Page, base: str):
        self.page = page
        self.origin = urlsplit(base)[:2]
        self.seen: dict[str, int] = {}

    def check(self) -> list[str]:
        hrefs = self.page.locator("a[href]").evaluate_all("links => links.map(a => a.getAttribute('href'))")
        here = self.page.url
        broken = []
        for href in hrefs:
            url = urljoin(here, href).split("#", 1)[0]
            if urlsplit(url)[:2] != self.origin or url in self.seen:
                continue
            self.seen[url] = self.page.request.get(url).status
            if self.seen[url] >= 400:
                broken.append(f"{href} ({self.seen[url]}) on {here}")
        return broken


@pytest.fixture
def nojs_page(browser, live_server):
    """A page in a context with JavaScript switched off."""
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
