"""Safe editing of a draft in Chromium: autosave with a visible "Saved at" state, a warning before leaving
with unsaved changes, undo of the last save, and the keyboard shortcuts the editor announces."""

import re
import threading

import pytest
from flask import request
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


@pytest.mark.config(SEED_DEMO=True)
def test_an_autosave_on_its_way_never_lands_after_the_save_pressed_later(
    app, page, live_server, demo_form, staff_user
):
    """Save draft pressed while an autosave is still on its way (a slow network, a busy server) waits for
    it, then saves: the older autosave can't land after the save and put the older words back."""
    autosave_view = app.view_functions["admin.campaign_autosave"]
    edit_view = app.view_functions["admin.campaign_edit"]
    autosave_arrived, autosave_released, save_arrived = (
        threading.Event(),
        threading.Event(),
        threading.Event(),
    )
    order: list[str] = []

    def held_autosave(public_id):  # the server holds the autosave until the test lets it go
        autosave_arrived.set()
        autosave_released.wait(60)
        answer = autosave_view(public_id=public_id)
        order.append("autosave")
        return answer

    def watched_edit(public_id):
        if request.method == "POST":
            save_arrived.set()
            order.append("save")
        return edit_view(public_id=public_id)

    app.view_functions["admin.campaign_autosave"] = held_autosave
    app.view_functions["admin.campaign_edit"] = watched_edit
    keyboard_login(page)
    page.goto("/admin/campaigns")
    page.get_by_role("link", name="Demo: first newsletter").click()
    page.get_by_role("link", name="Edit").click()
    expect(page.locator('[data-preview="status"]')).to_contain_text("Updated")  # the editor's script runs
    subject = page.get_by_label("Subject", exact=True)
    subject.fill("Words the autosave carries")
    assert autosave_arrived.wait(30), "no autosave reached the server"
    subject.fill("Words saved last")
    page.get_by_role("button", name="Save draft").click()
    # Without waiting for the autosave, the browser posts the form at once: give it the chance to, then let
    # the autosave go (before the fix, it landed after the save and its older subject stayed).
    early = save_arrived.wait(3)
    autosave_released.set()
    expect(page).to_have_url(re.compile(r"/admin/campaigns/[\w-]+$"))  # the saved draft's page
    assert _subject_in_database() == "Words saved last"
    assert not early and order == ["autosave", "save"], order
