"""The automation, delivery and insight pages speak the staff member's language (issue 16, part D): a staff
member who chose French builds a journey (headings, form labels, step names, flash messages), one who chose
Italian a segment (conditions, operators, the live count), and a French one adds a webhook endpoint (labels,
event names, validation message, flashes, delivery status); every page axe-clean."""

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from mailer.core.extensions import db
from mailer.staff.accounts import set_language
from mailer.subscriptions.models.lists import MailingList
from tests.browser.conftest import assert_accessible, keyboard_login
from tests.support.campaigns import subscriber
from tests.support.receiver import Receiver
from tests.webhooks.helpers import SETTINGS as WEBHOOK_SETTINGS


def _speak(page: Page, staff_user, code: str) -> None:
    """Log in (in English, the default), then choose the language as the account page does."""
    keyboard_login(page)
    set_language(staff_user, code)
    db.session.commit()


def test_a_journey_built_in_french(app_ctx, page: Page, live_server, staff_user, demo_form):
    _speak(page, staff_user, "fr")
    page.goto("/admin/journeys")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name="Parcours", exact=True)).to_be_visible()
    expect(page.get_by_text("Pas encore de parcours.")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Nouveau parcours").click()
    expect(page.get_by_role("heading", name="Nouveau parcours", exact=True)).to_be_visible()
    page.get_by_label("Nom").fill("Bienvenue")
    page.get_by_label("Démarre quand").select_option(label="Quelqu'un confirme un abonnement à la liste")
    page.get_by_label("Liste pour laquelle les emails sont envoyés").select_option(label="Demo newsletter")
    expect(page.get_by_label("Envoyer par")).to_contain_text("Le relais par défaut (SMTP_URL)")
    assert_accessible(page)
    page.get_by_role("button", name="Enregistrer").click()

    expect(page.get_by_role("alert")).to_have_text("Parcours créé. Ajoutez ses étapes, puis démarrez-le.")
    expect(page.get_by_role("heading", name="Étapes", exact=True)).to_be_visible()
    expect(page.get_by_text("Démarre quand un abonnement à « Demo newsletter » est confirmé")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Ajouter une étape").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ajouter une étape à « Bienvenue »")
    page.get_by_role("link", name="Attendre", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nouvelle étape : Attendre")
    page.get_by_label("Jours").fill("2")
    assert_accessible(page)
    page.get_by_role("button", name="Ajouter l'étape").click()

    expect(page.get_by_role("alert")).to_have_text("Attendre : étape ajoutée.")
    expect(page.locator("ol > li h3")).to_have_text(["Étape 1 : Attendre"])
    expect(page.locator("ol > li p").first).to_have_text("Attendre 2 j")
    expect(page.get_by_role("button", name="Supprimer étape 1")).to_be_visible()
    assert_accessible(page)


def test_a_segment_built_in_italian(app_ctx, page: Page, live_server, staff_user, demo_form):
    demo_list = db.session.execute(select(MailingList)).scalars().first()
    subscriber(demo_list, "ann@example.com", "Ann")
    subscriber(demo_list, "bob@example.com", "Bob")
    db.session.commit()
    _speak(page, staff_user, "it")
    page.goto("/admin/segments")
    expect(page.get_by_role("heading", name="Segmenti", exact=True)).to_be_visible()
    expect(page.get_by_text("Ancora nessun segmento.")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Nuovo segmento").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nuovo segmento")
    expect(page.get_by_role("group", name="Gruppo 1")).to_be_visible()
    page.get_by_label("Nome", exact=True).fill("Attivi")
    page.get_by_label("Campo della condizione 1 nel gruppo 1").select_option(label="Stato del contatto")
    expect(page.get_by_label("Operatore della condizione 1 nel gruppo 1")).to_contain_text("non è")
    page.get_by_label("Valore della condizione 1 nel gruppo 1").select_option(label="attivo")
    # The live count (segments.js) takes its words from the server, in Italian.
    expect(page.locator('[data-field="count"]')).to_have_text("2 contatti corrispondono")
    assert_accessible(page)
    page.get_by_role("button", name="Salva segmento").click()
    expect(page.get_by_role("alert")).to_have_text("Segmento “Attivi” salvato.")
    expect(page.locator('[data-field="count"]')).to_have_text("2 contatti corrispondono")
    assert_accessible(page)


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.mark.config(**WEBHOOK_SETTINGS)
def test_a_webhook_endpoint_in_french(app_ctx, page: Page, live_server, staff_user, receiver):
    _speak(page, staff_user, "fr")
    page.goto("/admin/webhooks")
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    expect(page.get_by_text("Pas encore de point de terminaison.")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Ajouter un point de terminaison").click()
    expect(page.get_by_role("heading", name="Nouveau point de terminaison de webhook")).to_be_visible()
    page.get_by_label("URL du point de terminaison").fill(receiver.url("/hook"))
    page.get_by_label("Description").fill("Synchro CRM")
    page.get_by_role("button", name="Enregistrer le point de terminaison").click()
    expect(page.get_by_text("Choisissez au moins un événement.")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Contact effacé (identifiants seulement, toujours)").check()
    page.get_by_role("button", name="Enregistrer le point de terminaison").click()

    expect(page.get_by_role("alert")).to_have_text(
        "Point de terminaison ajouté. Copiez son secret de signature ci-dessous."
    )
    expect(page.get_by_role("heading", name="Secret de signature")).to_be_visible()
    expect(page.get_by_role("heading", name="Journal des envois")).to_be_visible()
    assert page.get_by_label("Vérifiez chaque requête avec ce secret").input_value().startswith("whsec_")
    assert_accessible(page)
    page.get_by_role("button", name="Envoyer un événement de test").click()
    expect(page.get_by_role("alert")).to_contain_text("Événement de test mis en file.")
    expect(page.get_by_role("cell", name="en attente", exact=True)).to_be_visible()
    assert_accessible(page)
