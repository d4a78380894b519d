"""Issue 16 in a real browser: a person whose browser asks for Italian (or German) signs up through the
snippet pasted on another website and gets the confirmation email, the confirmation page and the preference
centre in that language; the ledger and the printable evidence name the language the form was shown in. Every
page passes axe-core."""

import html
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from mailer.consent.models import ConsentEvent
from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from tests.browser.conftest import STAFF_EMAIL, STAFF_PASSWORD, assert_accessible, shoot
from tests.support.http import confirm_link, login

WORDS = {
    "it": {
        "locale": "it-IT",
        "email": "Indirizzo email",
        "name": "Nome (facoltativo)",
        "thanks": "Grazie! Controlli la Sua casella di posta",
        "subject": "Confermi la Sua iscrizione a Mailer Demo",
        "object": "Ha il diritto di opporsi in qualsiasi momento",
        "confirmed": "Grazie, la Sua iscrizione è attiva",
        "to_preferences": "Vedere o modificare le Sue scelte",
        "preferences": "Le Sue preferenze email",
        "save": "Salva le mie scelte",
        "name_shown": "Italiano (it)",
        "box": "Sì, inviatemi “Demo newsletter” via email.",
        "button": "Iscriviti",
        "title": "Iscriviti alla newsletter dimostrativa",
    },
    "de": {
        "locale": "de-DE",
        "email": "E-Mail-Adresse",
        "name": "Name (optional)",
        "thanks": "Vielen Dank! Bitte sehen Sie in Ihrem Posteingang nach",
        "subject": "Bitte bestätigen Sie Ihr Abonnement bei Mailer Demo",
        "object": "Sie haben das Recht, der Verwendung Ihrer Daten für Direktwerbung jederzeit",
        "confirmed": "Vielen Dank – Sie sind angemeldet",
        "to_preferences": "Ihre Auswahl ansehen oder ändern",
        "preferences": "Ihre E-Mail-Einstellungen",
        "save": "Meine Auswahl speichern",
        "name_shown": "Deutsch (de)",
        "box": "Ja, senden Sie mir „Demo newsletter“ per E-Mail.",
        "button": "Abonnieren",
        "title": "Abonnieren Sie den Demo-Newsletter",
    },
}


@pytest.mark.parametrize("language", ["it", "de"])
def test_a_sign_up_on_another_website_in_the_browsers_language(
    app, browser, live_server, other_site, demo_form, staff_user, worker, smtp_server, language
):
    words = WORDS[language]
    staff = (
        app.test_client()
    )  # one staff client: it fetches the snippet now and reads the evidence at the end
    login(staff, STAFF_EMAIL, STAFF_PASSWORD)
    form_page = staff.get(
        f"/admin/forms/{demo_form.public_id}?lang={language}"
    )  # the snippet in this language
    snippet = html.unescape(
        re.search(r'<textarea id="snippet"[^>]*>(.*?)</textarea>', form_page.text, re.S)[1]
    )
    url = other_site.write(
        "index.html",
        f"""<!doctype html>
<html lang="{language}"><head><meta charset="utf-8"><title>Partner</title></head>
<body><main><h1>Partner</h1>{snippet}</main></body></html>""",
    )
    context = browser.new_context(base_url=live_server, locale=words["locale"])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(url)
        page.get_by_label(words["email"]).fill("ann@example.com")
        page.get_by_label(words["name"]).fill("Ann")
        page.get_by_label(words["box"]).check()  # the form's own words in this language
        page.get_by_role("button", name=words["button"]).click()
        expect(page.get_by_role("status")).to_contain_text(words["thanks"])

        worker.drain()
        [received] = smtp_server.to("ann@example.com")
        message = received.message
        assert message["Subject"] == words["subject"]
        assert words["object"] in message.get_body(("plain",)).get_content()

        page.goto(confirm_link(received.data, live_server))  # the page's script presses the button
        expect(page.get_by_role("heading", name=words["confirmed"])).to_be_visible()
        expect(page.locator("html")).to_have_attribute("lang", language)
        assert_accessible(page)
        shoot(page, f"confirmed-{language}")

        page.get_by_role("link", name=words["to_preferences"]).click()
        expect(page.get_by_role("heading", name=words["preferences"], level=1)).to_be_visible()
        expect(page.get_by_role("button", name=words["save"])).to_be_visible()
        assert_accessible(page)
        shoot(page, f"preferences-{language}")
    finally:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"

    db.session.expire_all()
    contact = db.session.execute(select(Contact)).scalar_one()
    assert contact.language == language
    requested = (
        db.session.execute(select(ConsentEvent).where(ConsentEvent.action == "requested")).scalars().all()
    )
    assert requested and all(event.details["language"] == language for event in requested)
    # ... and the notice version of the words in that language, with its hash
    notice = requested[0].notice
    assert notice.key == f"form:{demo_form.public_id}:{language}" and notice.content["language"] == language
    assert notice.content["title"] == words["title"]
    evidence = staff.get(f"/admin/contacts/{contact.public_id}/evidence")
    assert evidence.status_code == 200
    assert f'data-language="{language}">{words["name_shown"]}</dd>' in evidence.text
    assert f"notice “form:{demo_form.public_id}:{language}”" in evidence.text
    assert f'<code class="text-break" data-notice-hash>{notice.content_hash}</code>' in evidence.text
    assert words["title"] in evidence.text
