"""The template gallery, an A/B test and a form's confirmation email editor speak the staff member's language
(issue 16): a staff member who chose German starts from a starter, sets up an A/B test (a refusal, the saved
settings, the variants, the test's section on the campaign page) and edits the confirmation email, whose live
preview and refusals are German while the email itself stays in the tab's language; every page axe-clean."""

from playwright.sync_api import Page, expect
from sqlalchemy import select

from mailer.core.extensions import db
from mailer.staff.accounts import set_language
from mailer.subscriptions.models.lists import MailingList
from tests.browser.conftest import assert_accessible, keyboard_login
from tests.support.campaigns import make_campaign


def _speak_german(page: Page, staff_user) -> None:
    """Log in (in English, the default), then choose German as the account page does."""
    keyboard_login(page)
    set_language(staff_user, "de")
    db.session.commit()


def test_gallery_and_an_ab_test_in_german(app_ctx, page: Page, live_server, staff_user, demo_form):
    demo_list = db.session.execute(select(MailingList)).scalars().first()
    campaign = make_campaign([demo_list], from_email="news@example.org")
    db.session.commit()
    _speak_german(page, staff_user)

    page.goto("/admin/campaigns/gallery")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", level=1)).to_have_text("Neue Kampagne aus einer Vorlage")
    expect(page.get_by_role("heading", name="Startvorlagen")).to_be_visible()
    starter = page.get_by_role("article", name="Ankündigung")
    expect(starter).to_contain_text("Eine Nachricht, groß und zentriert, mit einer Schaltfläche.")
    expect(starter.get_by_role("link", name="Ankündigung im Editor „Visuell“ verwenden")).to_have_text(
        "Verwenden (Visuell)"
    )
    expect(page.get_by_text("Noch keine. Auf der Seite jeder Kampagne speichert")).to_be_visible()
    assert_accessible(page)
    starter.get_by_role("link", name="Ankündigung im Editor „HTML“ verwenden").click()
    expect(page.get_by_label("Name der Kampagne")).to_have_value("Ankündigung")

    page.goto(f"/admin/campaigns/{campaign.public_id}")
    page.get_by_role("link", name="A/B-Test", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("A/B-Test")
    expect(page.get_by_text("Niemand erhält zwei Varianten.")).to_be_visible()
    page.get_by_label("Diese Kampagne als A/B-Test durchführen").check()
    page.get_by_label("Wartezeit vor der Wahl der Gewinnerin (Minuten)").fill("1")
    page.get_by_role("button", name="Einstellungen speichern").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Die Wartezeit vor der Wahl der Gewinnerin muss zwischen 10 Minuten und 7 Tagen liegen."
    )
    assert_accessible(page)
    page.get_by_label("Wartezeit vor der Wahl der Gewinnerin (Minuten)").fill("60")
    page.get_by_role("button", name="Einstellungen speichern").click()
    expect(page.get_by_role("alert")).to_have_text("A/B-Test gespeichert.")
    expect(page.get_by_role("heading", name="Variante B", exact=True)).to_be_visible()
    page.locator("#variant-B").get_by_label("Betreff", exact=True).fill("Letzte Chance")
    page.get_by_role("button", name="Variante B speichern").click()
    expect(page.get_by_role("alert")).to_have_text("Variante B gespeichert.")
    assert_accessible(page)

    page.get_by_role("link", name="Zurück zur Kampagne").click()
    section = page.locator("#ab-test")
    expect(section.get_by_role("heading", name="A/B-Test")).to_be_visible()
    expect(page.locator("#ab-settings-summary")).to_contain_text(
        "20 % der Zielgruppe, gleichmäßig auf 2 Varianten verteilt"
    )
    expect(section).to_contain_text("Der Testanteil wird zu Beginn des Versands zufällig gezogen.")
    expect(section.get_by_role("columnheader", name="Klickrate")).to_be_visible()
    expect(section.locator('tr[data-variant="B"]')).to_contain_text("Letzte Chance")
    assert_accessible(page)


def test_the_confirmation_email_editor_in_german(app_ctx, page: Page, live_server, staff_user, demo_form):
    _speak_german(page, staff_user)
    page.goto(f"/admin/forms/{demo_form.public_id}/emails/confirmation/it")
    expect(page.get_by_role("heading", level=1)).to_have_text("Bestätigungs-E-Mail von „Demo form“")
    expect(page.get_by_role("navigation", name="Sprachen der Bestätigungs-E-Mail")).to_be_visible()
    expect(page.get_by_text("Standardtext", exact=True)).to_be_visible()
    # The email keeps the tab's language (Italian); the editor around it speaks German.
    preview = page.frame_locator("iframe[data-preview='iframe']")
    expect(preview.get_by_role("link", name="Conferma la mia iscrizione")).to_be_visible()
    expect(page.locator("#body-help")).to_contain_text("Platzhalter:")
    assert_accessible(page)

    body = page.get_by_label("Text", exact=True)
    body.focus()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("Cara {{ name }},\nsaldi su www.shop.example")
    expect(page.locator("[data-preview='status']")).to_have_text(
        "Die Vorschau wartet, bis die Probleme behoben sind."
    )
    expect(page.locator("[data-preview='error']")).to_contain_text(
        "Text, Zeile 2: Entfernen Sie die Web- oder E-Mail-Adresse"
    )
    page.get_by_role("button", name="Speichern", exact=True).click()
    expect(page.locator("#body-error")).to_contain_text(
        "Text, Zeile 2: Entfernen Sie die Web- oder E-Mail-Adresse"
    )
    assert_accessible(page)

    body = page.get_by_label("Text", exact=True)
    body.fill("Cara {{ name }},\nmanca solo un clic.")
    page.get_by_role("button", name="Speichern", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("Bestätigungs-E-Mail auf Italiano gespeichert.")
    expect(page.get_by_text("bearbeitet", exact=True)).to_be_visible()
    page.get_by_role("button", name="Auf den Standardtext zurücksetzen").click()
    expect(page.get_by_role("alert")).to_have_text("Zurück zum Standardtext.")
    assert_accessible(page)
