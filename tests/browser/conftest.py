"""Helpers shared by the browser tests: logging in, the admin's snippet, screenshots, link checks."""
import html
import os
import tempfile
import re
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.support.http import login

expect.set_options(timeout=10_000)  # a loaded CI machine can be slow; assertions still pass as soon as they hold

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
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()


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
