"""Every recipient in their own language (issue 16): the form's language or the browser's at sign-up, kept on
the contact, used for the confirmation email (asserted on the mail received over SMTP), the confirmation
pages, the preference centre (where the person can change it) and later mail; Accept-Language for anonymous
pages."""

import re
from html import unescape

import pytest
from babel.dates import format_date
from sqlalchemy import select

from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from mailer.core.i18n import LANGUAGES
from mailer.subscriptions import forms as form_service
from tests.public.recipients import preferences_path, subscribed_contact, unsubscribe_path
from tests.support.http import confirm_link, consent_values, form_timer

ITALIAN = {"Accept-Language": "it-IT,it;q=0.9,en;q=0.5"}
# The right to object (Art. 21(4), REQUIREMENTS F3), as each language says it in the confirmation email.
RIGHT_TO_OBJECT = {
    "en": "You have the right to object at any time, free of charge, to the use of your data for direct "
    "marketing.",
    "it": "Ha il diritto di opporsi in qualsiasi momento, gratuitamente, all'uso dei Suoi dati per il "
    "marketing diretto.",
    "de": "Sie haben das Recht, der Verwendung Ihrer Daten für Direktwerbung jederzeit kostenlos zu "
    "widersprechen.",
    "fr": "Vous avez le droit de vous opposer à tout moment, gratuitement, à l'utilisation de vos données "
    "à des fins de prospection commerciale.",
    "es": "Tiene derecho a oponerse en cualquier momento, de forma gratuita, al uso de sus datos para "
    "mercadotecnia directa.",
}
SUBJECT = {
    "en": "Please confirm your subscription to Mailer Demo",
    "it": "Confermi la Sua iscrizione a Mailer Demo",
    "de": "Bitte bestätigen Sie Ihr Abonnement bei Mailer Demo",
    "fr": "Veuillez confirmer votre inscription auprès de Mailer Demo",
    "es": "Confirme su suscripción a Mailer Demo",
}


def sign_up(client, headers, email="ann@example.com", every_box=False):
    values = consent_values(client)
    data = {
        "email": email,
        "name": "Ann",
        "ts": form_timer(client),
        "website": "",
        "consent": values if every_box else values[:1],
    }
    return client.post("/f/demo", data=data, headers={"User-Agent": "TestBrowser/1.0", **headers})


def text_and_html(message) -> tuple[str, str]:
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def contact_of(email: str) -> Contact:
    db.session.expire_all()
    return db.session.execute(select(Contact).where(Contact.email == email)).scalar_one()


def test_an_italian_sign_up_gets_italian_mail_and_pages_and_can_switch_to_german(
    app, demo_form, worker, smtp_server
):
    browser = app.test_client()
    browser.environ_base.update({"HTTP_ACCEPT_LANGUAGE": ITALIAN["Accept-Language"]})
    form = browser.get("/f/demo")
    assert '<html lang="it">' in form.text and "Indirizzo email" in form.text
    answer = sign_up(browser, ITALIAN, every_box=True)
    assert answer.status_code == 200 and "Controlli la Sua casella di posta" in answer.text
    worker.drain()
    assert contact_of("ann@example.com").language == "it"

    [received] = smtp_server.to("ann@example.com")
    message = received.message
    assert message["Subject"] == SUBJECT["it"]
    text, html = text_and_html(message)
    assert text.startswith("Gentile Ann,")
    assert "La preghiamo di confermare che desidera ricevere Demo newsletter da Mailer Demo." in text
    assert "- registrare quando apre le nostre email" in text
    assert "- registrare su quali link delle nostre email fa clic" in text
    assert RIGHT_TO_OBJECT["it"] in text and RIGHT_TO_OBJECT["it"] in unescape(html)
    assert "Il link è valido per 7 giorni." in text
    assert '<html lang="it">' in html
    assert "tracking" not in text.lower()  # no "that we may open tracking and click tracking" any more
    # No advertising (G2): no unsubscribe headers of a campaign, and the one link is the confirmation link.
    assert "List-Unsubscribe" not in message
    link = confirm_link(received.data, app.config["MAILER_BASE_URL"])
    assert set(re.findall(r'href="([^"]+)"', html)) == {link}

    # The pages follow the contact's language even in a browser that asks for none.
    plain = app.test_client()
    path = link[len(app.config["MAILER_BASE_URL"]) :]
    page = plain.get(path)
    assert page.status_code == 200 and '<html lang="it">' in page.text
    assert "Sì, confermo la mia iscrizione" in page.text
    done = plain.post(path)
    assert done.status_code == 200 and "Grazie, la Sua iscrizione è attiva" in done.text
    preferences = re.search(r'<a href="([^"]+)">Vedere o modificare le Sue scelte</a>', done.text).group(1)
    centre = plain.get(preferences[len(app.config["MAILER_BASE_URL"]) :])
    assert centre.status_code == 200 and "Le Sue preferenze email" in centre.text
    since = format_date(contact_of("ann@example.com").created_at, "long", locale="it")
    assert f"Conserviamo il Suo indirizzo dal {since}." in centre.text
    assert "Le iscrizioni mai confermate vengono cancellate dopo 30 giorni." in centre.text
    assert '<option value="it" lang="it" selected>Italiano</option>' in centre.text

    # The person switches to German: the page answers in German, and so does the next email.
    ticked = re.findall(r'name="choice" value="([^"]+)" id="[^"]+" checked', centre.text)
    notice = re.search(r'name="notice" value="([^"]+)"', centre.text).group(1)
    saved = plain.post(
        preferences[len(app.config["MAILER_BASE_URL"]) :],
        data={"choice": ticked, "notice": notice, "name": "Ann", "language": "de"},
    )
    assert saved.status_code == 200 and '<html lang="de">' in saved.text
    assert "Ab jetzt schreiben wir Ihnen auf Deutsch." in saved.text
    contact = contact_of("ann@example.com")
    assert contact.language == "de"
    assert [s.status for s in contact.subscriptions] == ["confirmed"]  # nothing else changed

    plain.post("/p", data={"email": "ann@example.com"})
    worker.drain()
    later = smtp_server.to("ann@example.com")[-1].message
    assert later["Subject"] == "Ihre E-Mail-Einstellungen bei Mailer Demo"
    assert text_and_html(later)[0].startswith("Guten Tag Ann,")


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_confirmation_email_tells_of_the_right_to_object_in_every_language(
    app, demo_form, worker, smtp_server, language
):
    client = app.test_client()
    headers = {"Accept-Language": f"{language};q=0.9"}
    assert sign_up(client, headers, email=f"{language}@example.com").status_code == 200
    worker.drain()
    [received] = smtp_server.to(f"{language}@example.com")
    text, _html = text_and_html(received.message)
    assert received.message["Subject"] == SUBJECT[language]
    assert RIGHT_TO_OBJECT[language] in " ".join(text.split())
    assert contact_of(f"{language}@example.com").language == language


def test_a_form_with_a_fixed_language_speaks_it_whatever_the_browser(app, demo_form, worker, smtp_server):
    settings = form_service.settings_of(demo_form)
    settings.language = "de"
    form_service.save_form(settings, demo_form)
    db.session.commit()
    client = app.test_client()
    page = client.get("/f/demo", headers=ITALIAN)
    assert '<html lang="de">' in page.text and "E-Mail-Adresse" in page.text
    refused = client.post(
        "/f/demo", data={"email": "not an address", "ts": form_timer(client)}, headers=ITALIAN
    )
    assert refused.status_code == 400
    assert "Das sieht nicht nach einer E-Mail-Adresse aus." in refused.text
    assert sign_up(client, ITALIAN).status_code == 200
    worker.drain()
    assert contact_of("ann@example.com").language == "de"
    assert smtp_server.to("ann@example.com")[0].message["Subject"] == SUBJECT["de"]


def test_a_form_refuses_a_language_it_does_not_ship(app, demo_form):
    settings = form_service.settings_of(demo_form)
    settings.language = "xx"
    with pytest.raises(form_service.FormError, match="language"):
        form_service.save_form(settings, demo_form)
    db.session.rollback()


def test_a_confirmed_subscribers_language_stays_when_someone_types_their_address(app, demo_form, worker):
    contact = subscribed_contact("ann@example.com", demo_form.lists)
    contact.language = "it"
    db.session.commit()
    client = app.test_client()
    assert sign_up(client, {"Accept-Language": "fr"}).status_code == 200
    worker.drain()
    assert contact_of("ann@example.com").language == "it"


def test_the_preference_centre_refuses_a_language_it_does_not_offer(app, demo_form):
    contact = subscribed_contact("ann@example.com", demo_form.lists)
    contact.language = "it"
    db.session.commit()
    path = preferences_path(app, contact)
    client = app.test_client()
    page = client.get(path)
    ticked = re.findall(r'name="choice" value="([^"]+)" id="[^"]+" checked', page.text)
    answer = client.post(path, data={"choice": ticked, "name": "", "language": "klingon"})
    assert answer.status_code == 400
    assert "Questa lingua non è disponibile. Ne scelga una dall&#39;elenco." in answer.text
    assert contact_of("ann@example.com").language == "it"


def test_unsubscribe_pages_speak_the_contacts_language(app, demo_form):
    contact = subscribed_contact("ann@example.com", demo_form.lists)
    contact.language = "fr"
    db.session.commit()
    path = unsubscribe_path(app, contact, demo_form.lists[0], None)
    page = app.test_client().get(path)
    assert page.status_code == 200 and '<html lang="fr">' in page.text
    assert "Se désinscrire de « Demo newsletter »" in page.text


def test_anonymous_pages_follow_the_browser(app):
    client = app.test_client()
    missing = client.get("/no-such-page", headers={"Accept-Language": "de-CH,de;q=0.8"})
    assert missing.status_code == 404 and "Seite nicht gefunden" in missing.text
    assert '<html lang="de">' in missing.text
    assert "Page not found" in client.get("/no-such-page", headers={"Accept-Language": "ja"}).text
    request = client.get("/p", headers={"Accept-Language": "es"})
    assert "Sus preferencias de correo" in request.text
    bad = client.post("/p", data={"email": "nope"}, headers={"Accept-Language": "es"})
    assert bad.status_code == 400 and "Esto no parece una dirección de correo electrónico." in bad.text


def test_staff_pages_speak_the_staff_members_language_and_the_snippet_speaks_the_forms_language(
    app, auth, staff_user, demo_form
):
    # The admin's language is the staff member's choice (here English, whatever the browser asks for), never
    # the form's; the snippet the page shows is in the form's language.
    from mailer.staff.accounts import set_language

    set_language(staff_user, "en")
    settings = form_service.settings_of(demo_form)
    settings.language = "it"
    form_service.save_form(settings, demo_form)
    db.session.commit()
    page = auth.get(f"/admin/forms/{demo_form.public_id}", headers=ITALIAN)
    assert page.status_code == 200 and '<html lang="en">' in page.text
    assert "Embed on your website" in page.text
    assert "&lt;p&gt;&lt;label&gt;Indirizzo email&lt;br&gt;" in page.text
