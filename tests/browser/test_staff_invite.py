"""An owner invites a colleague; the colleague opens the
emailed link in their own browser and sets a password."""

from playwright.sync_api import expect

from tests.browser.conftest import keyboard_enrol, keyboard_login, shoot
from tests.support.privacy import links_in_mail

PASSWORD = "a passphrase only I know"


def test_invite_a_colleague_who_sets_their_own_password(app, browser, page, live_server, staff_user, worker):
    keyboard_login(page)
    nav = page.get_by_role("navigation", name="Main")
    nav.locator("summary", has_text="Settings").click()  # the Settings menu
    nav.get_by_role("link", name="Staff").click()
    page.get_by_label("Their email").fill("colleague@example.com")
    page.get_by_label("Role", exact=True).select_option("privacy")
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Invitation sent to colleague@example.com (role privacy)"
    )
    expect(page.locator("#invites").get_by_role("row", name="colleague@example.com")).to_contain_text(
        "privacy"
    )
    shoot(page, "staff-invite-pending")

    worker.drain()
    [link] = links_in_mail(app, "colleague@example.com", "/admin/invite/")
    colleague = browser.new_context(
        base_url=live_server
    ).new_page()  # their own browser: no session of the owner
    colleague.goto(link)
    expect(colleague.get_by_role("heading", name="Set your password")).to_be_visible()
    expect(colleague.get_by_text("You're invited as colleague@example.com")).to_be_visible()
    colleague.get_by_label("Choose a password").fill(PASSWORD)
    colleague.get_by_label("Repeat the password").fill(PASSWORD + " typo")
    colleague.get_by_role("button", name="Create my account").click()
    expect(colleague.get_by_text("The passwords don't match.")).to_be_visible()
    colleague.get_by_label("Choose a password").fill(PASSWORD)
    colleague.get_by_label("Repeat the password").fill(PASSWORD)
    colleague.get_by_role("button", name="Create my account").click()
    # A privacy officer can reveal and export personal data: a second factor comes first.
    expect(colleague.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    expect(colleague.get_by_role("alert")).to_contain_text(
        "Welcome! Your account (privacy officer) is ready."
    )
    keyboard_enrol(colleague, "colleague@example.com")
    expect(colleague.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    shoot(colleague, "staff-invite-accepted")

    colleague.goto(link)  # the link worked once
    expect(colleague.get_by_role("heading", name="This invitation was already used")).to_be_visible()
    colleague.context.close()

    page.reload()
    expect(page.locator("#invites")).to_have_count(0)
    expect(page.get_by_role("row", name="colleague@example.com")).to_contain_text("active")
