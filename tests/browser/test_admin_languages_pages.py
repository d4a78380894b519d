"""Issue 16, part C in Chromium: the login page in the browser's language (German), and the campaign editor,
its preview and confirmation pages in the staff member's chosen language (Italian): headings, labels, the
editor's own live messages (static/campaign-editor.js takes its words from the page) and flash messages,
axe-clean."""

import re

from playwright.sync_api import Page, expect

from mailer.core.extensions import db
from tests.browser.conftest import assert_accessible, keyboard_login
from tests.support.campaigns import newsletter


def test_the_login_page_speaks_the_browsers_language(browser, live_server, staff_user):
    context = browser.new_context(base_url=live_server, locale="de-DE")
    page = context.new_page()
    try:
        page.goto("/admin/login")
        expect(page.locator("html")).to_have_attribute("lang", "de")
        expect(page.get_by_role("heading", name="Anmelden", exact=True)).to_be_visible()
        expect(page.get_by_label("E-Mail")).to_be_focused()
        page.keyboard.type("owner@example.com")
        page.keyboard.press("Tab")
        expect(page.get_by_label("Passwort")).to_be_focused()
        page.keyboard.type("not the password")
        page.keyboard.press("Enter")
        expect(page.get_by_role("alert")).to_have_text("E-Mail-Adresse oder Passwort falsch.")
        expect(page.get_by_role("button", name="Anmelden")).to_be_visible()
        assert_accessible(page)
    finally:
        context.close()


def test_the_campaign_editor_in_italian(page: Page, live_server, staff_user):
    campaign, _ = newsletter(2)
    keyboard_login(page)
    staff_user.language = "it"
    db.session.commit()

    page.goto(f"/admin/campaigns/{campaign.public_id}/edit")
    expect(page.locator("html")).to_have_attribute("lang", "it")
    expect(page.get_by_role("heading", name=f"Modifica “{campaign.name}”")).to_be_visible()
    for heading in ("Messaggio", "Pubblico", "Contenuto", "Tracciamento", "Relay", "Programma", "Anteprima"):
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(page.get_by_label("Nome della campagna")).to_have_value(campaign.name)
    expect(page.get_by_text("Invia a queste liste")).to_be_visible()
    expect(page.get_by_label("News · 2 confermati")).to_be_checked()
    expect(page.locator('[data-preview="status"]')).to_contain_text("Aggiornata alle")  # the script's words
    page.get_by_label("Indirizzo del mittente").fill("")
    page.get_by_label("Oggetto", exact=True).fill("Notizie di dicembre")
    expect(page.locator("[data-save-state]")).to_have_text(
        "Non ancora salvato: Inserisci l'indirizzo del mittente."
    )
    page.get_by_label("Indirizzo del mittente").fill("news@example.com")
    expect(page.locator("[data-save-state]")).to_have_text("Modifiche non salvate… (salvataggio a breve)")
    expect(page.locator("[data-save-state]")).to_have_text(re.compile(r"^Salvato alle \d\d[:.]\d\d"))
    assert_accessible(page)

    page.get_by_role("button", name="Salva e mostra anteprima").click()
    expect(page.get_by_role("alert")).to_have_text("Bozza salvata.")
    expect(page.get_by_role("heading", name=f"Anteprima di “{campaign.name}”")).to_be_visible()
    expect(page.get_by_role("heading", name="Parte testuale")).to_be_visible()
    expect(page.get_by_text("L'email come la riceverebbe un contatto di esempio.")).to_be_visible()
    assert_accessible(page)

    page.goto(f"/admin/campaigns/{campaign.public_id}/send")
    expect(page.get_by_role("heading", name=f"Inviare ora “{campaign.name}”?")).to_be_visible()
    expect(page.get_by_role("heading", name="Verifiche")).to_be_visible()
    expect(page.get_by_text("L'idoneità viene verificata di nuovo per ogni destinatario")).to_be_visible()
    assert_accessible(page)


def test_the_layout_pages_in_german(page: Page, live_server, staff_user):
    keyboard_login(page)
    staff_user.language = "de"
    db.session.commit()

    page.goto("/admin/layouts")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", name="Layouts", exact=True)).to_be_visible()
    expect(page.get_by_text("Ein Layout umgibt jede Kampagne, die es verwendet")).to_be_visible()
    expect(page.get_by_text("eingebaut").first).to_be_visible()
    assert_accessible(page)

    page.locator(".card-title a").first.click()
    expect(page.get_by_role("button", name="Kopie zum Bearbeiten erstellen")).to_be_visible()
    expect(page.get_by_role("heading", name="Desktop")).to_be_visible()
    expect(page.get_by_text("HTML-Quelltext")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("button", name="Kopie zum Bearbeiten erstellen").click()
    expect(page.get_by_role("alert")).to_contain_text("Kopiert. Sie bearbeiten „")
    expect(page.get_by_role("heading", name="Vorschau mit Beispielinhalt")).to_be_visible()
    expect(page.get_by_role("button", name="Layout speichern")).to_be_visible()
    expect(page.locator('[data-preview="status"]')).to_contain_text("Aktualisiert um")  # the script's words
    assert_accessible(page)

    page.goto("/admin/media")
    expect(page.get_by_role("heading", name="Medien", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Ein Bild hochladen")).to_be_visible()
    expect(page.get_by_label("Bild (JPEG, PNG, GIF oder WebP)")).to_be_visible()
    expect(page.get_by_role("button", name="Hochladen")).to_be_visible()
    assert_accessible(page)
