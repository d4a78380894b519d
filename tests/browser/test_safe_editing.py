"""Safe editing of a draft in Chromium: autosave with a visible "Saved at" state, a warning before leaving
with unsaved changes, undo of the last save, and the keyboard shortcuts the editor announces."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from mailer.campaigns.models import Campaign
from mailer.core.extensions import db
from tests.browser.conftest import assert_accessible, keyboard_login, shoot


def _subject_in_database() -> str:
    db.session.rollback()
    return db.session.execute(
        select(Campaign.subject).where(Campaign.name == "Demo: first newsletter")
    ).scalar_one()


@pytest.mark.config(SEED_DEMO=True)
def test_autosave_leave_warning_and_undo(app, page, live_server, demo_form, staff_user):
    keyboard_login(page)
    nav = page.get_by_role("navigation", name="Main")
    original = _subject_in_database()

    # A new campaign becomes a draft a moment after the first keystroke; until then, leaving asks first.
    nav.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name=re.compile("New campaign")).first.click()
    expect(page.locator('[data-preview="status"]')).to_contain_text("Updated")  # the editor's script runs
    page.get_by_label("Campaign name").fill("Typed and kept")
    expect(page.locator("[data-save-state]")).to_have_text("Unsaved changes… (saving shortly)")
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    nav.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_label("Campaign name")).to_have_value("Typed and kept")  # still here
    assert dialogs == ["beforeunload"]
    expect(page.locator("[data-save-state]")).to_have_text(re.compile(r"^Saved at \d\d:\d\d"))
    expect(page).to_have_url(re.compile(r"/admin/campaigns/[\w-]+/edit$"))  # the draft's own editor now
    db.session.rollback()
    assert db.session.execute(
        select(Campaign.status).where(Campaign.name == "Typed and kept")
    ).scalar_one() == ("draft")
    page.get_by_label("Subject", exact=True).fill("Kept as I type")
    page.get_by_label("Demo newsletter ·").check()
    page.keyboard.press("Control+Shift+P")  # saves and previews
    expect(page.get_by_role("heading", name=re.compile("Preview of “Typed and kept”"))).to_be_visible()
    db.session.rollback()
    assert db.session.execute(
        select(Campaign.subject).where(Campaign.name == "Typed and kept")
    ).scalar_one() == ("Kept as I type")

    # An existing draft saves itself shortly after typing stops, and says so.
    page.goto("/admin/campaigns")
    page.get_by_role("link", name="Demo: first newsletter").click()
    page.get_by_role("link", name="Edit").click()
    expect(page.locator('[data-preview="status"]')).to_contain_text("Updated")
    expect(page.get_by_text("Ctrl+S (⌘+S on a Mac) saves")).to_be_visible()
    subject = page.get_by_label("Subject", exact=True)
    subject.fill("Autumn news from the market")
    expect(page.locator("[data-save-state]")).to_have_text(re.compile(r"^Saved at \d\d:\d\d"))
    assert _subject_in_database() == "Autumn news from the market"
    assert_accessible(page)
    shoot(page, "campaign-autosaved", full_page=False)

    # Ctrl+S saves at once, without leaving the editor.
    subject.fill("Autumn news, second try")
    subject.press("Control+s")
    expect(page.locator("[data-save-state]")).to_have_text(re.compile(r"^Saved at"))
    assert _subject_in_database() == "Autumn news, second try"

    # Saved: nothing to warn about, the link just leaves.
    nav.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()

    page.go_back()
    page.reload()
    expect(page.locator('[data-preview="status"]')).to_contain_text("Updated")
    versions = page.get_by_role("list", name="Kept versions, newest first")
    expect(versions.get_by_role("listitem")).to_have_count(2)
    expect(versions.get_by_role("listitem").first).to_contain_text("Autumn news from the market")
    page.get_by_role("button", name="Undo last save").click()
    expect(page.get_by_role("alert")).to_contain_text("The last save was undone.")
    expect(page.get_by_label("Subject", exact=True)).to_have_value("Autumn news from the market")
    versions.get_by_role("listitem").last.get_by_role("button", name=re.compile("Restore")).click()
    expect(page.get_by_label("Subject", exact=True)).to_have_value(original)
    assert _subject_in_database() == original
    assert_accessible(page)
