"""A staff member chooses the admin's language on their account page, with the keyboard: Italiano, then
Deutsch; every page after it speaks that language (<html lang>, navigation, headings, times), axe-clean."""

from datetime import datetime

from playwright.sync_api import Page, expect

from mailer.core.extensions import db
from tests.browser.conftest import assert_accessible, keyboard_login
from tests.support.campaigns import newsletter


def _choose_language(page: Page, current_label: str, language: str, save: str) -> None:
    """On the account page: focus the Language select, pick a language, Tab to its button, press Enter."""
    select = page.get_by_role("combobox", name=current_label, exact=True)
    select.focus()
    select.select_option(label=language)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name=save)).to_be_focused()
    page.keyboard.press("Enter")


def test_the_admin_in_italian_then_german(page: Page, live_server, staff_user):
    campaign, _ = newsletter(2)
    campaign.status, campaign.started_at = "sent", datetime(2026, 12, 1, 9, 30)
    db.session.commit()
    keyboard_login(page)
    page.get_by_role("link", name="owner@example.com · owner").click()
    expect(page.get_by_role("heading", name="Your account", exact=True)).to_be_visible()
    _choose_language(page, "Language", "Italiano", "Save language")

    expect(page.get_by_role("alert")).to_have_text("Lingua salvata.")
    expect(page.locator("html")).to_have_attribute("lang", "it")
    expect(page.get_by_role("heading", name="Il tuo account", exact=True)).to_be_visible()
    expect(page.get_by_role("combobox", name="Lingua", exact=True)).to_have_value("it")
    assert_accessible(page)

    nav = page.get_by_role("navigation", name="Principale")
    nav.get_by_role("link", name="Bacheca").click()
    expect(page.get_by_role("heading", name="Bacheca", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Ultime campagne")).to_be_visible()
    expect(nav.get_by_role("link", name="Campagne")).to_be_visible()
    expect(page.get_by_role("button", name="Esci")).to_be_visible()
    started = page.locator(f'[data-campaign="{campaign.public_id}"] time')
    expect(started).to_have_attribute("title", "01/12/26, 09:30 UTC")
    assert_accessible(page)

    nav.get_by_role("link", name="Campagne").click()
    expect(page.get_by_role("heading", name="Campagne", exact=True)).to_be_visible()
    page.get_by_role("link", name=campaign.name).click()
    expect(page.get_by_role("heading", name="Avanzamento")).to_be_visible()
    expect(page.get_by_role("heading", name="Invii per stato")).to_be_visible()
    expect(page.locator("#campaign-status")).to_have_text("inviata")
    expect(page.get_by_role("heading", name="Riepilogo")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="owner@example.com · proprietario").click()
    _choose_language(page, "Lingua", "Deutsch", "Salva lingua")
    expect(page.get_by_role("alert")).to_have_text("Sprache gespeichert.")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    page.get_by_role("navigation", name="Hauptnavigation").get_by_role("link", name="Übersicht").click()
    expect(page.get_by_role("heading", name="Übersicht", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Neueste Kampagnen")).to_be_visible()
    expect(started).to_have_attribute("title", "01.12.26, 09:30 UTC")
    assert_accessible(page)
