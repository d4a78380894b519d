"""A list's re-confirmation (re-permission) email edited per language (issue 16): staff write the German
subject, text and button on the list's page; a German subscriber asked to re-confirm receives exactly that
over SMTP, DKIM-signed, with the parts we always add (the working keep link, the deadline, the right to
object, the postal address); the link re-confirms; the ledger's "reconfirmation_sent" event and the evidence
page name the version sent. Links, addresses, HTML and template code beyond merge tags are refused with 400,
nothing saved."""

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.bulk import operations as bulk
from mailer.consent.ledger import RequestContext
from mailer.consent.models import ConsentEvent
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.subscriptions import reconfirmation, system_emails
from mailer.subscriptions.lists import create_list
from mailer.subscriptions.models.system_emails import SystemEmail, SystemEmailKind
from mailer.subscriptions.operations import Basis, Door, subscribe
from tests.admin.test_campaign_pages import form_token
from tests.subscriptions.test_recipient_language import RIGHT_TO_OBJECT, text_and_html
from tests.subscriptions.test_system_emails import _stored
from tests.support.people import bare_contacts
from tests.support.signup import page, path_of
from tests.transactional.helpers import SETTINGS, signing_key, verifies

STAFF_DOOR = Door(RequestContext("admin"), "admin", Basis.PRIOR_CONSENT, by_person=False)
SUBJECT = "{{ name }}, bleiben Sie dabei?"
BODY = (
    "{% if name %}Hallo {{ name }},{% else %}Hallo,{% endif %}\n"
    "möchten Sie {{ lists }} weiter lesen?\n\nIhr Team von {{ organisation }}"
)
BUTTON = "Ja, ich bleibe"


def _editor(mailing_list, language="de") -> str:
    return f"/admin/lists/{mailing_list.public_id}/emails/reconfirmation/{language}"


def _post(client, mailing_list, action="save", **fields):
    url = _editor(mailing_list)
    data = {"csrf_token": form_token(client, url), "action": action, **fields}
    return client.post(url, data=data)


@pytest.fixture
def news(app, app_ctx):
    """The list "News" with one German subscriber, Anna Berg, confirmed."""
    mailing_list = create_list("News")
    [anna] = bare_contacts(1)
    anna.name, anna.language = "Anna Berg", "de"
    subscribe(anna, [mailing_list.purpose], STAFF_DOOR)
    db.session.commit()
    return mailing_list


def _ask(mailing_list, worker) -> None:
    people = [s.contact for s in mailing_list.subscriptions]
    bulk.start_job(
        "list_reconfirm", mailing_list.public_id, people, None, None, options=bulk.Options(days="14")
    )
    db.session.commit()
    worker.drain()


@pytest.mark.config(**SETTINGS)
def test_an_edited_german_reconfirmation_email_arrives_as_written_and_its_link_reconfirms(
    app, auth, news, worker, smtp_server
):
    record = signing_key()
    list_page = page(auth.get(f"/admin/lists/{news.public_id}"))
    assert _editor(news, "en") in list_page  # reachable from the list's page
    editor = page(auth.get(_editor(news)))
    assert "{{ organisation }}: Möchten Sie unsere E-Mails weiterhin erhalten?" in editor  # today's words
    saved = _post(auth, news, subject=SUBJECT, body=BODY, button_label=BUTTON)
    assert saved.status_code == 302, page(saved)
    assert "edited" in page(auth.get(_editor(news)))

    _ask(news, worker)
    [received] = smtp_server.to("p000@example.com")
    message = received.message
    assert message["Subject"] == "Anna Berg, bleiben Sie dabei?"
    text, html = text_and_html(message)
    text = text.replace("\r\n", "\n")
    assert text.startswith("Hallo Anna Berg,\nmöchten Sie News weiter lesen?\n\nIhr Team von Example Shop")
    assert "Hallo Anna Berg,<br>möchten Sie News weiter lesen?" in unescape(html)
    assert f">{BUTTON}</a>" in unescape(html) and f"{BUTTON}:" in text
    for part in (text, unescape(html)):  # what our template adds, whatever the marketer wrote
        assert RIGHT_TO_OBJECT["de"] in part
        assert "1 Main St, 10115 Berlin" in part and "Example Shop" in part
        assert "Wenn Sie bis zum" in part  # the deadline
    assert "List-Unsubscribe" not in message
    assert verifies(received.data, record)  # DKIM-signed as every message
    links = set(re.findall(r'href="([^"]+)"', html))
    assert len(links) == 1 and "/stay/" in next(iter(links))  # no other link (no advertising)

    browser = app.test_client()
    kept = browser.post(path_of(unescape(next(iter(links))), SETTINGS["MAILER_BASE_URL"]))
    assert kept.status_code == 200 and "News" in kept.text
    db.session.expire_all()
    anna = news.subscriptions[0].contact
    granted = (
        db.session.execute(
            select(ConsentEvent).where(ConsentEvent.action == "granted").order_by(ConsentEvent.id.desc())
        )
        .scalars()
        .first()
    )
    assert granted.details["reason"] == "reconfirmed"

    # The ledger names the version of the words sent, and keeps them; the evidence shows them.
    version = system_emails.EmailText(SUBJECT, BODY, BUTTON).content_hash
    sent = db.session.execute(
        select(ConsentEvent).where(ConsentEvent.action == "reconfirmation_sent")
    ).scalar_one()
    assert sent.purpose_id == news.purpose.id and sent.details["message_id"] == message["Message-ID"]
    assert sent.details["wording"] == {
        "list": news.public_id,
        "language": "de",
        "version": version,
        "subject": SUBJECT,
        "body": BODY,
        "button": BUTTON,
    }
    evidence = re.sub(r"<[^>]+>", "", page(auth.get(f"/admin/contacts/{anna.public_id}/evidence")))
    assert f"wording: the list's edited text, version {version}, in Deutsch" in evidence
    assert "kept the list" in evidence


def test_a_list_never_edited_sends_the_built_in_email_and_the_ledger_says_so(app, news, worker, smtp_server):
    _ask(news, worker)
    [received] = smtp_server.to("p000@example.com")
    assert "Möchten Sie unsere E-Mails weiterhin erhalten?" in str(received.message["Subject"])
    text, _ = text_and_html(received.message)
    assert text.startswith("Guten Tag Anna Berg,") and RIGHT_TO_OBJECT["de"] in text
    sent = db.session.execute(
        select(ConsentEvent).where(ConsentEvent.action == "reconfirmation_sent")
    ).scalar_one()
    assert sent.details["wording"] == {"list": news.public_id, "language": "de", "version": "built-in"}


def test_two_lists_with_different_wordings_are_asked_in_their_own_words(app, auth, news, smtp_server):
    other = create_list("Offers")
    anna = news.subscriptions[0].contact
    subscribe(anna, [other.purpose], STAFF_DOOR)
    db.session.commit()
    assert _post(auth, news, subject=SUBJECT, body=BODY, button_label=BUTTON).status_code == 302
    deadline = utcnow() + timedelta(days=14)
    for mailing_list in (news, other):  # both wait for her answer when her email is sent
        reconfirmation.ask(mailing_list, [anna.id], "job", deadline)
    db.session.commit()
    reconfirmation.send_reconfirmation(anna.id)
    subjects = sorted(str(r.message["Subject"]) for r in smtp_server.to("p000@example.com"))
    assert subjects[0] == "Anna Berg, bleiben Sie dabei?"
    assert "Möchten Sie unsere E-Mails weiterhin erhalten?" in subjects[1]
    versions = {
        e.details["list"]: e.details["wording"]["version"]
        for e in db.session.execute(
            select(ConsentEvent).where(ConsentEvent.action == "reconfirmation_sent")
        ).scalars()
    }
    assert versions == {
        news.public_id: system_emails.EmailText(SUBJECT, BODY, BUTTON).content_hash,
        other.public_id: "built-in",
    }


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("body", "Hallo,\nAngebote auf https://shop.example/sale", "Text, line 2: remove the web or email"),
        ("body", "Schreiben Sie an info@shop.example", "may link only to the re-confirmation"),
        ("subject", "Rabatt bei shop.example", "Subject, line 1: remove the web or email address"),
        ("body", 'Hallo <a href="x">hier</a>', "Text, line 1: write plain text"),
        ("body", "Hallo {{ form }}", "Text, line 1: “form” is not a merge tag"),
        ("body", "Hallo {{ name.__class__ }}", "Text, line 1: only merge tags"),
        ("body", "Hallo {{ name", "Text, line 1: unexpected end of template"),
        ("button_label", "x" * 61, "Button: too long (61 characters; 60 at most)."),
    ],
)
def test_links_addresses_html_and_template_code_are_refused_and_nothing_is_saved(
    app, auth, news, field, value, message
):
    fields = {"subject": SUBJECT, "body": BODY, "button_label": BUTTON, field: value}
    refused = _post(auth, news, **fields)
    assert refused.status_code == 400
    assert message in page(refused)
    assert 'aria-invalid="true"' in refused.text
    assert _stored() == 0


def test_preview_reset_audit_csrf_and_permissions(app, auth, news):
    url = _editor(news) + "/preview.json"
    token = form_token(auth, _editor(news))
    data = auth.post(
        url, data={"csrf_token": token, "subject": SUBJECT, "body": BODY, "button_label": BUTTON}
    ).get_json()
    assert data["ok"] and data["subject"] == "Alex Beispiel, bleiben Sie dabei?"
    assert "Hallo Alex Beispiel," in data["text"] and RIGHT_TO_OBJECT["de"] in data["text"]
    assert BUTTON in unescape(data["html"]) and "Mailer Demo Ltd, 1 Test Street" in unescape(data["html"])
    bad = auth.post(
        url, data={"csrf_token": token, "subject": SUBJECT, "body": "www.x.example", "button_label": "x"}
    )
    assert bad.get_json()["ok"] is False
    no_csrf = auth.post(url, data={"subject": SUBJECT, "body": BODY, "button_label": BUTTON})
    assert no_csrf.status_code == 400
    assert (
        auth.post(_editor(news), data={"subject": "x", "body": "y", "button_label": "z"}).status_code == 400
    )
    assert _stored() == 0  # neither a preview nor a post without CSRF stores anything

    assert _post(auth, news, subject=SUBJECT, body=BODY, button_label=BUTTON).status_code == 302
    stored = db.session.execute(select(SystemEmail)).scalar_one()
    assert (stored.list_id, stored.form_id, stored.kind) == (news.id, None, SystemEmailKind.RECONFIRMATION)
    assert _post(auth, news, action="reset").status_code == 302 and _stored() == 0
    assert "{{ organisation }}: Möchten Sie unsere E-Mails" in page(auth.get(_editor(news)))
    actions = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "list.system_email").order_by(AuditEvent.id)
    ).scalars()
    assert [(a.target_id, a.details.get("reset", False)) for a in actions] == [
        (news.public_id, False),
        (news.public_id, True),
    ]
    assert auth.get(f"/admin/lists/{news.public_id}/emails/reconfirmation/xx").status_code == 404


def test_the_default_reconfirmation_wording_passes_the_checks_in_every_language(app_ctx):
    for language in ("en", "it", "de", "fr", "es"):
        text = system_emails.defaults(language, SystemEmailKind.RECONFIRMATION)
        assert system_emails.clean(text, SystemEmailKind.RECONFIRMATION) == text, language
