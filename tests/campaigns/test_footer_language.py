"""A campaign's footer speaks each recipient's language (issue 16): the built-in layouts' footers (why you get
this, preferences, unsubscribe, privacy notice) are ours, translated, and rendered per recipient with the
contact's language; the marketer's body stays as written. Asserted on the messages received over SMTP."""

from html import unescape

import pytest

from mailer.campaigns import layouts as layout_service
from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns.models import Layout
from mailer.core.extensions import db
from mailer.subscriptions.lists import create_list, ensure_tracking_purposes
from tests.subscriptions.test_recipient_language import text_and_html
from tests.support.campaigns import make_campaign, subscriber

FOOTERS = {
    "Classic card": {
        "it": "Ricevi questa email perché ti sei iscritto alle notizie di",
        "de": "Sie erhalten diese E-Mail, weil Sie Neuigkeiten von",
        "en": "You receive this email because you subscribed to news from",
    },
    "Bold banner": {
        "it": "Disiscriviti con un clic",
        "de": "Mit einem Klick abmelden",
        "en": "Unsubscribe with one click",
    },
    "Plain letter": {"it": "Preferenze email", "de": "E-Mail-Einstellungen", "en": "Email preferences"},
}


@pytest.mark.parametrize("layout_name", list(FOOTERS))
def test_each_recipient_receives_the_footer_in_their_language(app_ctx, worker, smtp_server, layout_name):
    ensure_tracking_purposes()
    layout_service.ensure_builtin_layouts()
    layout = db.session.query(Layout).filter_by(builtin=True, name=layout_name).one()
    news = create_list("News")
    people = {
        language: subscriber(news, f"{language}@example.net", f"{language.upper()} Test")
        for language in ("it", "de", "en")
    }
    for language, contact in people.items():
        contact.language = language
    campaign = make_campaign([news], layout=layout, subject="Novità", body="Il corpo resta com'è.")
    db.session.commit()
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    for language, contact in people.items():
        [received] = smtp_server.to(contact.email)
        text, html = text_and_html(received.message)
        assert f'<html lang="{language}"' in html
        text, html = " ".join(text.split()), " ".join(unescape(html).split())
        for part in (text, html):
            assert FOOTERS[layout_name][language] in part
            assert "Il corpo resta com" in part  # the marketer's words are not translated
        if language != "en":
            assert FOOTERS[layout_name]["en"] not in html


def test_the_text_footer_of_a_campaign_with_its_own_text_part_is_translated_too(app_ctx, worker, smtp_server):
    ensure_tracking_purposes()
    layout_service.ensure_builtin_layouts()
    news = create_list("News")
    contact = subscriber(news, "it@example.net", "Ida Rossi")
    contact.language = "it"
    campaign = make_campaign([news], layout=layout_service.default_layout(), text_body="Testo semplice.")
    db.session.commit()
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    [received] = smtp_server.to(contact.email)
    text, _ = text_and_html(received.message)
    assert "Testo semplice." in text
    assert "Gestisci le tue preferenze: " in text and "Manage your preferences" not in text
