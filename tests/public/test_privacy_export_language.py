"""The access download speaks the person's language (issue 16): README.html and README.txt, their headings and
the sentences written in Python (categories, source, recipients, retention), in the contact's language, else
the browser's when the person downloads it; the page says which language it is in."""

import io
import re
import zipfile

import pytest

from mailer.core.extensions import db
from mailer.privacy import export
from tests.support.people import bare_contacts
from tests.support.privacy import links_in_mail, preference_path, sign_up_and_confirm

HEADINGS = {
    "it": ("I Suoi dati conservati da", "Cosa conserviamo", "Per quanto tempo li conserviamo", "1 voce"),
    "de": ("Ihre bei", "Was wir speichern", "Wie lange wir sie aufbewahren", "1 Eintrag"),
    "en": ("Your data held by", "What we hold", "How long we keep it", "1 record"),
}


@pytest.mark.parametrize("language", list(HEADINGS))
def test_the_readme_of_the_download_is_in_the_contacts_language(app_ctx, language):
    [contact] = bare_contacts(1)
    contact.language = language
    db.session.commit()
    archive = zipfile.ZipFile(io.BytesIO(export.build_zip(contact, clear_sensitive=True)))
    readme = archive.read("README.html").decode()
    assert f'<html lang="{language}">' in readme
    for words in HEADINGS[language]:
        assert words in readme, words
    if language != "en":
        assert "What we hold" not in readme


def _download(app, client, worker, contact, headers=None) -> zipfile.ZipFile:
    """Ask for one's data from the preference centre, follow the verification link, download the ZIP."""
    assert client.post(preference_path(contact, "access"), headers=headers).status_code == 200
    worker.drain()
    verify = links_in_mail(app, contact.email, "/privacy/verify/")[-1]
    done = client.post(verify, headers=headers)
    download = re.search(r'href="(/privacy/download/[^"]+)"', done.text).group(1)
    response = client.get(download, headers=headers)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(response.data))


def _person(app, client, worker, email: str, language: str | None):
    contact = sign_up_and_confirm(
        app,
        client,
        worker,
        email,
        "Ann Example",
        ip="203.0.113.5",
        user_agent="AnnBrowser/1.0",
        confirm_ip="203.0.113.6",
        confirm_user_agent="AnnPhone/2.0",
    )
    contact.language = language
    db.session.commit()
    return contact


def test_an_italian_contact_downloads_their_data_in_italian(app, client, demo_form, worker):
    ann = _person(app, client, worker, "anna@example.org", "it")
    archive = _download(
        app, client, worker, ann
    )  # the browser asks for nothing: the contact's language counts
    text = archive.read("README.txt").decode()
    assert text.startswith("I SUOI DATI CONSERVATI DA ")
    for words in (
        "in risposta alla Sua richiesta ai sensi degli articoli 15 e 20 del GDPR",
        "- Il Suo profilo (csv/profile.csv): 1 voce",
        "Da dove provengono: Ce li ha forniti Lei stesso (",
        "Chi li riceve:",
        "Per quanto tempo li conserviamo:",
        "- Dati di apertura e clic: 365 giorni",
        "Decisioni automatizzate:",
    ):
        assert words in text, words
    html = archive.read("README.html").decode()
    assert '<html lang="it">' in html and "Dati di contatto: indirizzo email, nome" in html
    assert "<strong>Cronologia del consenso</strong> (csv/consent_history.csv)" in html
    # The privacy notice's sections stay as published (English; its words are its hashed version).
    for english in (
        "What we hold",
        "Who receives it",
        "You gave it to us",
        "Contact data",
        "How long we keep it",
    ):
        assert english not in text and english not in html, english


def test_an_english_contact_downloads_their_data_in_english(app, client, demo_form, worker):
    ann = _person(app, client, worker, "ann@example.org", "en")
    text = _download(app, client, worker, ann, headers={"Accept-Language": "it"}).read("README.txt").decode()
    assert text.startswith("YOUR DATA HELD BY ")
    for words in (
        "in answer to your request under Articles 15 and 20 GDPR",
        "- Your profile (csv/profile.csv): 1 record",
        "Where it comes from: You gave it to us yourself (",
        "- Open and click records: 365 days",
    ):
        assert words in text, words


def test_without_a_language_the_download_follows_the_browser(app, client, demo_form, worker):
    ann = _person(app, client, worker, "ann@example.org", None)
    archive = _download(app, client, worker, ann, headers={"Accept-Language": "de-DE, de;q=0.9"})
    text = archive.read("README.txt").decode()
    assert text.startswith("IHRE BEI ") and "Wie lange wir sie aufbewahren:" in text
