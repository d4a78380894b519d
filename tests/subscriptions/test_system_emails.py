"""A form's confirmation email edited per language (issue 16): staff write the subject, text and button of
the Italian email in the admin; a sign-up receives exactly that over SMTP, DKIM-signed, with the parts we
always add (the working confirmation link, the right to object, the postal address); links, addresses, HTML
and template code other than merge tags are refused on the marketer's own line and nothing is saved; the
ledger and the evidence name the version that was sent."""

import re
from html import unescape

import pytest
from sqlalchemy import func, select

from mailer.audit.models import AuditEvent
from mailer.consent.models import ConsentEvent
from mailer.core.extensions import db
from mailer.subscriptions import system_emails
from mailer.subscriptions.models.system_emails import SystemEmail
from tests.admin.test_campaign_pages import form_token
from tests.subscriptions.test_recipient_language import (
    ITALIAN,
    RIGHT_TO_OBJECT,
    contact_of,
    sign_up,
    text_and_html,
)
from tests.support.http import confirm_link
from tests.support.signup import page
from tests.transactional.helpers import SETTINGS, signing_key, verifies

SUBJECT = "{{ name }}, ci siamo quasi!"
BODY = (
    "{% if name %}Cara {{ name }},{% else %}Ciao,{% endif %}\n"
    "un ultimo passo per ricevere {{ lists }}.\n\nA presto da {{ organisation }}."
)
BUTTON = "Sì, iscrivetemi"


def _editor(form) -> str:
    return f"/admin/forms/{form.public_id}/emails/confirmation/it"


def _post(client, form, action="save", **fields):
    url = _editor(form)
    data = {"csrf_token": form_token(client, url), "action": action, **fields}
    return client.post(url, data=data)


def _stored() -> int:
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(SystemEmail)).scalar_one()


@pytest.mark.config(**SETTINGS)
def test_an_edited_italian_confirmation_email_arrives_as_written_with_the_required_parts(
    app, auth, demo_form, worker, smtp_server
):
    record = signing_key()
    editor = page(auth.get(_editor(demo_form)))
    assert "Confermi la Sua iscrizione a {{ organisation }}" in editor  # starts from today's wording
    saved = _post(auth, demo_form, subject=SUBJECT, body=BODY, button_label=BUTTON)
    assert saved.status_code == 302, page(saved)
    assert "edited" in page(auth.get(_editor(demo_form)))

    browser = app.test_client()
    sign_up(browser, ITALIAN)
    worker.drain()
    [received] = smtp_server.to("ann@example.com")
    message = received.message
    assert message["Subject"] == "Ann, ci siamo quasi!"
    text, html = text_and_html(message)
    text = text.replace("\r\n", "\n")
    assert text.startswith(
        "Cara Ann,\nun ultimo passo per ricevere Demo newsletter.\n\nA presto da Example Shop."
    )
    assert "Cara Ann,<br>un ultimo passo per ricevere Demo newsletter." in html
    assert f">{BUTTON}</a>" in unescape(html) and f"{BUTTON}:" in text
    for part in (text, unescape(html)):  # what our template adds, whatever the marketer wrote
        assert RIGHT_TO_OBJECT["it"] in part
        assert "1 Main St, 10115 Berlin" in part and "Example Shop" in part
        assert "Il link è valido per 7 giorni." in part
    assert "List-Unsubscribe" not in message
    assert verifies(received.data, record)  # DKIM-signed as every message
    link = confirm_link(received.data, app.config["MAILER_BASE_URL"])
    assert set(re.findall(r'href="([^"]+)"', html)) == {link}  # no other link (G2)

    path = link[len(app.config["MAILER_BASE_URL"]) :]
    assert browser.post(path).status_code == 200
    db.session.expire_all()
    assert {s.status for s in contact_of("ann@example.com").subscriptions} == {"confirmed"}

    # The ledger names the version of the words sent, and keeps them; the evidence shows them.
    version = system_emails.EmailText(SUBJECT, BODY, BUTTON).content_hash
    sent = db.session.execute(
        select(ConsentEvent).where(ConsentEvent.action == "confirmation_sent")
    ).scalar_one()
    assert sent.details["wording"] == {
        "form": "demo",
        "language": "it",
        "version": version,
        "subject": SUBJECT,
        "body": BODY,
        "button": BUTTON,
    }
    evidence = page(auth.get(f"/admin/contacts/{contact_of('ann@example.com').public_id}/evidence"))
    assert f"the form's edited text, version {version}" in re.sub(r"<[^>]+>", "", evidence)


def test_a_form_never_edited_sends_the_built_in_email(app, demo_form, worker, smtp_server):
    sign_up(app.test_client(), ITALIAN)
    worker.drain()
    [received] = smtp_server.to("ann@example.com")
    assert received.message["Subject"] == "Confermi la Sua iscrizione a Mailer Demo"
    assert text_and_html(received.message)[0].startswith("Gentile Ann,")
    sent = db.session.execute(
        select(ConsentEvent).where(ConsentEvent.action == "confirmation_sent")
    ).scalar_one()
    assert sent.details["wording"] == {"form": "demo", "language": "it", "version": "built-in"}


@pytest.mark.parametrize(
    "field, value, message",
    [
        (
            "body",
            "Ciao,\nguarda le offerte su https://shop.example/saldi",
            "Text, line 2: remove the web or email address",
        ),
        ("body", "Ciao,\n\nvisita www.shop.example", "Text, line 3: remove the web or email address"),
        (
            "body",
            "Scrivici a info@shop.example oppure shop.com",
            "Text, line 1: remove the web or email address",
        ),
        ("subject", "Offerta su shop.example", "Subject, line 1: remove the web or email address"),
        (
            "body",
            'Ciao <img src="x">',
            "Text, line 1: write plain text; HTML, images and links are not allowed",
        ),
        ("body", "Ciao {{ email }}", "Text, line 1: “email” is not a merge tag"),
        ("body", "Ciao {{ name", "Text, line 1: unexpected end of template"),
        ("body", "x" * 2001, "Text: too long (2001 characters; 2000 at most)."),
        ("button_label", "", "Button: write something, or reset to the default wording."),
    ],
)
def test_links_addresses_html_and_mistakes_are_refused_on_their_line(
    app, auth, demo_form, field, value, message
):
    fields = {"subject": SUBJECT, "body": BODY, "button_label": BUTTON, field: value}
    refused = _post(auth, demo_form, **fields)
    assert refused.status_code == 400
    assert message in page(refused)
    assert 'aria-invalid="true"' in refused.text
    assert _stored() == 0


@pytest.mark.parametrize(
    "attempt",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ name.__class__.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{% for x in range(999999) %}{{ x }}{% endfor %}",
        "{{ name|attr('__class__') }}",
        "{% set x = 1 %}{{ lipsum() }}",
    ],
)
def test_template_code_beyond_merge_tags_is_refused_and_the_sandbox_holds(app, auth, demo_form, attempt):
    refused = _post(auth, demo_form, subject=SUBJECT, body=f"Ciao,\n{attempt}", button_label=BUTTON)
    assert refused.status_code == 400
    assert "Text, line 2:" in page(refused)
    assert _stored() == 0
    # The sandbox is the second wall: even unchecked, the attribute access is refused when rendering.
    with pytest.raises(Exception) as caught:
        system_emails._env.from_string("{{ ''.__class__.__mro__[1].__subclasses__() }}").render()
    assert type(caught.value).__name__ == "SecurityError"


def test_preview_as_one_types_and_reset_to_the_default(app, auth, demo_form):
    url = _editor(demo_form) + "/preview.json"
    token = form_token(auth, _editor(demo_form))
    shown = auth.post(
        url, data={"csrf_token": token, "subject": SUBJECT, "body": BODY, "button_label": BUTTON}
    )
    data = shown.get_json()
    assert data["ok"] and data["subject"] == "Alex Esempio, ci siamo quasi!"
    assert "Cara Alex Esempio," in data["text"] and RIGHT_TO_OBJECT["it"] in data["text"]
    assert BUTTON in unescape(data["html"]) and "Mailer Demo Ltd, 1 Test Street" in unescape(data["html"])
    bad = auth.post(
        url,
        data={
            "csrf_token": token,
            "subject": SUBJECT,
            "body": "vedi http://x.example",
            "button_label": BUTTON,
        },
    )
    assert bad.get_json()["ok"] is False and "Text, line 1" in bad.get_json()["errors"]["body"][0]
    assert (
        auth.post(url, data={"subject": SUBJECT, "body": BODY, "button_label": BUTTON}).status_code == 400
    )  # CSRF
    assert _stored() == 0  # a preview stores nothing

    assert _post(auth, demo_form, subject=SUBJECT, body=BODY, button_label=BUTTON).status_code == 302
    assert _stored() == 1
    reset = _post(auth, demo_form, action="reset")
    assert reset.status_code == 302 and _stored() == 0
    assert "Confermi la Sua iscrizione a {{ organisation }}" in page(auth.get(_editor(demo_form)))
    actions = db.session.execute(
        select(AuditEvent.details).where(AuditEvent.action == "form.system_email").order_by(AuditEvent.id)
    ).scalars()
    assert [d.get("reset", False) for d in actions] == [False, True]


def test_a_language_the_form_does_not_offer_has_no_editor(app, auth, demo_form):
    demo_form.languages = ["en"]
    db.session.commit()
    assert auth.get(_editor(demo_form)).status_code == 404
    assert auth.get(f"/admin/forms/{demo_form.public_id}/emails/confirmation/xx").status_code == 404


def test_the_default_wording_passes_the_checks_in_every_language(app_ctx):
    for language in ("en", "it", "de", "fr", "es"):
        text = system_emails.defaults(language)
        assert system_emails.clean(text) == text, language
