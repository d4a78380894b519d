"""First run in a real browser: the one-time setup link
creates the owner account and lands on the dashboard."""

import re

from playwright.sync_api import expect
from sqlalchemy import select

from mailer.core.extensions import db
from mailer.staff.accounts import setup_token
from mailer.staff.models.accounts import StaffUser
from tests.browser.conftest import assert_accessible, keyboard_enrol, keyboard_login, shoot


def test_setup_link_creates_the_owner_and_lands_on_the_dashboard(app, page, live_server):
    with app.app_context():
        token = setup_token()

    page.goto("/admin/login")
    expect(page.get_by_text("No staff account exists yet.")).to_be_visible()

    response = page.goto(f"/admin/setup?token={token}")
    assert response.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome — create the owner account")
    expect(page.get_by_label("Your email")).to_be_focused()
    shoot(page, "first-run-setup")

    page.get_by_label("Your email").fill("boss@example.com")
    page.get_by_label("Password", exact=True).fill("a long enough secret")
    page.get_by_label("Repeat the password").fill("a different secret")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("The passwords don't match.")).to_be_visible()
    with app.app_context():
        assert db.session.execute(select(StaffUser)).first() is None

    page.get_by_label("Password", exact=True).fill("a long enough secret")
    page.get_by_label("Repeat the password").fill("a long enough secret")
    page.get_by_role("button", name="Create account").click()
    # An owner can export personal data: the next step sets up a second factor, with clear steps.
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your authenticator app")
    expect(page.get_by_role("alert")).to_have_text("Welcome! Your owner account is ready.")
    expect(page.get_by_role("img", name="QR code of your authenticator key")).to_be_visible()
    expect(page.locator("#manual-key")).to_have_text(re.compile(r"^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$"))
    assert_accessible(page)
    shoot(page, "first-run-second-factor")
    keyboard_enrol(page, "boss@example.com", check_accessible=True)
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.get_by_text("boss@example.com · owner")).to_be_visible()
    assert page.url == f"{live_server}/admin/"
    shoot(page, "first-run-dashboard")
    with app.app_context():
        [user] = db.session.execute(select(StaffUser)).scalars().all()
        assert (user.email, user.role) == ("boss@example.com", "owner")

    # The link is spent: after logging out it only points to the login page, where the new account works.
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("alert")).to_have_text("You have been logged out.")
    page.goto(f"/admin/setup?token={token}")
    expect(page.get_by_role("alert")).to_have_text("Setup is already done. Please log in.")
    expect(page.get_by_text("No staff account exists yet.")).to_have_count(0)
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Contacts")).to_have_count(0)
    shoot(page, "admin-login")
    keyboard_login(page, "boss@example.com", "a long enough secret")


def test_setup_page_without_a_valid_token_is_not_found(app, page):
    for path in ("/admin/setup", "/admin/setup?token=forged"):
        response = page.goto(path)
        assert response.status == 404
        expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
        expect(page.get_by_label("Your email")).to_have_count(0)
