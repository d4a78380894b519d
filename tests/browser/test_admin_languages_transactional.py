"""The transactional pages and the audit log speak the staff member's language (issue 16): a staff member
who chose French writes a transactional template (labels, help, the service's refusal, preview, flash), sends
a test that arrives over real SMTP, reads the sent log (status in French) and finds both actions on the audit
log in French; every page axe-clean."""

import pytest
from playwright.sync_api import Page, expect

from mailer.core.extensions import db
from mailer.staff.accounts import set_language
from tests.browser.conftest import assert_accessible, keyboard_login
from tests.transactional.helpers import SETTINGS

BODY = "Bonjour,\n\nla commande **{{ data.order_number }}** est partie."


@pytest.mark.config(**SETTINGS)
def test_transactional_pages_and_audit_log_in_french(
    app_ctx, page: Page, live_server, staff_user, worker, smtp_server
):
    keyboard_login(page)
    set_language(staff_user, "fr")
    db.session.commit()

    page.goto("/admin/transactional")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name="Modèles transactionnels", exact=True)).to_be_visible()
    expect(page.get_by_text("Pas encore de modèle transactionnel.")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Nouveau modèle").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nouveau modèle transactionnel")
    expect(page.get_by_text("Les données de fusion de la requête API s'écrivent")).to_be_visible()
    page.get_by_label("Nom", exact=True).fill("Commande expédiée")
    page.get_by_label("Clé (ce que l'API envoie").fill("Commande Expédiée!")
    page.get_by_label("Objet", exact=True).fill("Commande {{ data.order_number }} expédiée")
    page.get_by_label("Corps", exact=True).fill(BODY)
    page.get_by_label("Données de fusion d'exemple pour l'aperçu (JSON)").fill('{"order_number": "1001"}')
    page.get_by_role("button", name="Enregistrer le modèle").click()
    problems = page.get_by_role("alert")
    expect(problems).to_contain_text("Le modèle n'a pas été enregistré.")
    expect(problems).to_contain_text("La clé doit compter 1 à 64 lettres minuscules")
    assert_accessible(page)

    page.get_by_label("Clé (ce que l'API envoie").fill("commande-expediee")
    page.get_by_role("button", name="Aperçu", exact=True).click()
    expect(page.locator("[data-preview=subject]")).to_have_text("Commande 1001 expédiée")
    frame = page.frame_locator('iframe[title="Aperçu de l\'e-mail"]')
    expect(frame.get_by_text("est partie")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Enregistrer le modèle").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Commande expédiée")
    expect(page.get_by_text("Modèle « Commande expédiée » enregistré.")).to_be_visible()
    expect(page.get_by_role("heading", name="Envoi de test")).to_be_visible()
    expect(page.get_by_role("heading", name="L'envoyer depuis votre intégration")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Envoyer un test à").fill("qa@example.net")
    page.get_by_label("Données de fusion (JSON)").fill('{"order_number": "7"}')
    page.get_by_role("button", name="Envoyer le test").click()
    sent = "Un test de « Commande expédiée » est en route vers qa@example.net."
    expect(page.get_by_text(sent)).to_be_visible()
    worker.drain()
    [received] = smtp_server.to("qa@example.net")
    assert received.message["Subject"] == "[TEST] Commande 7 expédiée"

    page.get_by_role("link", name="Tout le journal des envois").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Journal des envois")
    expect(page.get_by_role("cell", name="qa@example.net")).to_be_visible()
    expect(page.get_by_role("cell", name="envoyée", exact=True)).to_be_visible()
    expect(page.get_by_text("le relais l'a accepté")).to_be_visible()
    assert_accessible(page)

    page.goto("/admin/audit")
    expect(page.get_by_role("heading", name="Journal d'audit", exact=True)).to_be_visible()
    created = page.get_by_role("cell", name="Modèle transactionnel créé", exact=True)
    tested = page.get_by_role("cell", name="Test d'un modèle transactionnel envoyé", exact=True)
    expect(created).to_be_visible()
    expect(tested).to_be_visible()
    page.get_by_label("Action").select_option(label="Modèle transactionnel créé")
    page.get_by_role("button", name="Filtrer").click()
    expect(created).to_be_visible()
    expect(tested).to_have_count(0)
    assert_accessible(page)
