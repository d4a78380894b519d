"""Privacy requests in the person's language (issue 16): the self-service pages, the verification and
re-permission emails (received over SMTP) and the answers speak the contact's language, else the browser's."""

import re
from html import unescape

from babel.dates import format_date
from sqlalchemy import select

from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from mailer.privacy import mail as privacy_mail
from mailer.privacy.models.requests import PrivacyRequest
from tests.public.recipients import subscribed_contact
from tests.support.privacy import preference_path


def _subscriber(demo_form, email: str, language: str | None) -> Contact:
    """A confirmed subscriber of the demo list whose language is known (or not)."""
    contact = subscribed_contact(email, list(demo_form.lists), name="Anna")
    contact.language = language
    db.session.commit()
    return contact


def _text(message) -> str:
    return " ".join(message.get_body(("plain",)).get_content().split())


def test_an_italian_erasure_from_request_to_done_in_italian(app, demo_form, worker, smtp_server):
    anna = _subscriber(demo_form, "anna@example.com", "it")
    plain = app.test_client()  # a browser that asks for no language: the contact's is used

    page = plain.get(preference_path(anna, "erasure"))
    assert page.status_code == 200 and '<html lang="it">' in page.text
    text = unescape(page.text)
    assert "Può chiederci di cancellare i Suoi dati (art. 17 GDPR)." in text
    assert "Voglio la cancellazione di tutti i miei dati. Capisco che è irreversibile." in text
    assert "Rispondiamo a ogni richiesta entro un mese." in text

    refused = plain.post(preference_path(anna, "erasure"), data={})
    assert refused.status_code == 400
    assert "Selezioni la casella per confermare che vuole la cancellazione dei Suoi dati." in unescape(
        refused.text
    )

    asked = plain.post(preference_path(anna, "erasure"), data={"confirm": "yes"})
    assert asked.status_code == 200 and "Abbiamo inviato un link al Suo indirizzo email." in unescape(
        asked.text
    )
    worker.drain()
    received = smtp_server.to("anna@example.com")[-1].message
    assert received["Subject"] == "Confermi la Sua richiesta: cancellazione"
    body = _text(received)
    req = db.session.execute(select(PrivacyRequest)).scalar_one()
    received_on = format_date(req.received_at, "long", locale="it")
    assert f"Il {received_on} Mailer Demo ha ricevuto una richiesta di esercitare il Suo diritto" in body
    assert "Dopo la Sua conferma cancelliamo i Suoi dati; l'operazione è irreversibile." in body
    assert "Sì, sono stato io — continua:" in body
    html = received.get_body(("html",)).get_content()
    assert '<html lang="it">' in html and "Oppure incolli questo link nel Suo browser:" in unescape(html)

    link = re.search(r"https?://[^\s]+/privacy/verify/[A-Za-z0-9_.\-]+", body).group(0)
    path = link[len(app.config["MAILER_BASE_URL"]) :]
    confirm = unescape(plain.get(path).text)
    assert "Confermi la Sua richiesta: cancellazione" in confirm
    assert "Cancella ora i miei dati" in confirm
    done = plain.post(path)
    assert done.status_code == 200 and "I Suoi dati sono stati cancellati" in unescape(done.text)


def test_an_objection_is_answered_in_the_contacts_language_naming_what_stopped(app, demo_form, worker):
    anna = _subscriber(demo_form, "anna@example.com", "de")
    page = app.test_client().get(preference_path(anna, "objection"))
    assert "Sie können jeder Verwendung Ihrer Daten widersprechen (Art. 21 DSGVO)." in unescape(page.text)
    keys = re.findall(r'name="purpose" value="([^"]+)"', page.text)
    answer = app.test_client().post(preference_path(anna, "objection"), data={"purpose": keys})
    text = unescape(answer.text)
    assert answer.status_code == 200 and "Ihr Widerspruch ist erfasst" in text
    assert "Wir haben sofort und endgültig beendet:" in text and "Demo newsletter" in text


def test_a_contact_without_a_language_gets_the_browsers(app, demo_form, worker):
    anna = _subscriber(demo_form, "anna@example.com", None)
    page = app.test_client().get(preference_path(anna, "access"), headers={"Accept-Language": "es-ES"})
    assert '<html lang="es">' in page.text
    assert "Tiene derecho a saber qué datos tenemos sobre usted" in unescape(page.text)
    broken = app.test_client().get("/privacy/verify/nope", headers={"Accept-Language": "fr"})
    assert broken.status_code == 404 and '<html lang="fr">' in broken.text
    assert "Veuillez refaire la demande depuis le lien vers vos préférences" in unescape(broken.text)


def test_the_repermission_email_speaks_the_contacts_language(app, demo_form, worker, smtp_server):
    anna = _subscriber(demo_form, "anna@example.com", "fr")
    privacy_mail.send_repermission(anna.id)
    received = smtp_server.to("anna@example.com")[-1].message
    assert received["Subject"] == "Souhaitez-vous toujours avoir des nouvelles de Mailer Demo ?"
    body = _text(received)
    assert "Nous n'avons pas eu de vos nouvelles depuis longtemps." in body
    assert "Oui, je reste abonné:" in body
    link = re.search(r"https?://[^\s]+/privacy/keep/[A-Za-z0-9_.\-]+", body).group(0)
    path = link[len(app.config["MAILER_BASE_URL"]) :]
    assert "Rester abonné" in unescape(app.test_client().get(path).text)
    kept = app.test_client().post(path)
    assert kept.status_code == 200 and "Vous restez abonné." in unescape(kept.text)
