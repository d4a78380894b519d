"""System emails through the API (issue 15, API parity): a form's confirmation email and a list's
re-confirmation email, per language, written, previewed and reset with the admin's rules; what a person then
receives over SMTP, with a working confirmation link; every change audited with the API key."""

import re
from html import unescape

from sqlalchemy import func, select

from mailer.audit.models import AuditEvent
from mailer.core.extensions import db
from mailer.subscriptions.models.lists import Subscription
from mailer.subscriptions.models.system_emails import SystemEmail
from tests.support.http import confirm_link
from tests.support.signup import path_of, sign_up

SUBJECT = "{{ name }}, one last step for {{ lists }}"
BODY = "{% if name %}Dear {{ name }},{% else %}Hello,{% endif %}\nthe greengrocers' letter is one click away."
BUTTON = "Yes, send me the letter"


def _email_url(form) -> str:
    return f"/forms/{form.public_id}/emails/confirmation/en"


def _stored() -> int:
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(SystemEmail)).scalar_one()


def _audits(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars())


def test_a_confirmation_email_changed_through_the_api_arrives_as_written_and_its_link_confirms(
    app, api, write_key, demo_form, worker, smtp_server
):
    before = api.get(_email_url(demo_form)).get_json()
    assert before["edited"] is False and before["version"] == "built-in"
    assert before["subject"] == "Please confirm your subscription to {{ organisation }}"
    assert set(before["merge_tags"]) == {"name", "organisation", "lists", "form"}

    saved = api.put(_email_url(demo_form), json={"subject": SUBJECT, "body": BODY, "button_label": BUTTON})
    assert saved.status_code == 200, saved.get_json()
    data = saved.get_json()
    assert (data["edited"], data["subject"], data["body"], data["button_label"]) == (
        True,
        SUBJECT,
        BODY,
        BUTTON,
    )
    assert re.fullmatch(r"[0-9a-f]{64}", data["version"])
    (audited,) = _audits("form.system_email")
    assert audited.details == {
        "kind": "confirmation",
        "language": "en",
        "version": data["version"],
        "via": "api",
        "api_key": write_key[3:11],
    }

    browser = app.test_client()
    assert sign_up(browser, email="bea@example.com", name="Bea").status_code == 200
    worker.drain()
    [received] = smtp_server.to("bea@example.com")
    assert received.message["Subject"] == "Bea, one last step for Demo newsletter"
    text = received.message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = unescape(received.message.get_body(("html",)).get_content())
    assert text.startswith("Dear Bea,\nthe greengrocers' letter is one click away.")
    assert f">{BUTTON}</a>" in html
    base = app.config["MAILER_BASE_URL"]
    link = confirm_link(received.data, base)
    assert browser.post(path_of(link, base)).status_code == 200
    db.session.expire_all()
    assert db.session.execute(select(Subscription.status)).scalars().all() == ["confirmed"]


def test_the_admins_refusals_apply_and_nothing_is_stored(api, demo_form):
    refusals = {
        "body": "Visit www.greengrocers.example for our offers.",
        "subject": "<b>Confirm</b>",
    }
    for field, value in refusals.items():
        body = {"subject": "Confirm", "body": "Hello", "button_label": "Yes", field: value}
        refused = api.put(_email_url(demo_form), json=body)
        assert refused.status_code == 422, refused.get_json()
        assert "line 1" in refused.get_json()["detail"][field]
    unknown = api.put(
        _email_url(demo_form), json={"subject": "{{ secret }}", "body": "Hi", "button_label": "Yes"}
    )
    assert unknown.status_code == 422
    assert "“secret” is not a merge tag" in unknown.get_json()["detail"]["subject"]
    code = api.put(
        _email_url(demo_form),
        json={"subject": "Hi", "body": "{{ name.__class__ }}", "button_label": "Yes"},
    )
    assert code.status_code == 422
    assert "not other template code" in code.get_json()["detail"]["body"]
    empty = api.put(_email_url(demo_form), json={"subject": " ", "body": "Hi", "button_label": "Yes"})
    assert empty.status_code == 422 and "write something" in empty.get_json()["detail"]["subject"]
    assert _stored() == 0 and _audits("form.system_email") == []

    missing = api.put(
        f"/forms/{demo_form.public_id}/emails/confirmation/xx",
        json={"subject": "Ciao", "body": "Ciao", "button_label": "Sì"},
    )
    assert missing.status_code == 404
    assert "not offered in that language" in missing.get_json()["error"]
    assert (
        api.get(f"/forms/{demo_form.public_id}/emails/confirmation").get_json()["data"][0]["language"] == "en"
    )


def test_a_preview_renders_the_email_and_stores_nothing_even_for_a_read_only_key(read_api, api, demo_form):
    url = f"{_email_url(demo_form)}/preview"
    shown = read_api.post(url, json={"subject": SUBJECT, "body": BODY, "button_label": BUTTON})
    assert shown.status_code == 200, shown.get_json()
    data = shown.get_json()
    assert data["subject"] == "Alex Example, one last step for Demo newsletter"
    assert "Dear Alex Example," in data["text"] and f"{BUTTON}</a>" in unescape(data["html"])
    # A part left out is the one in use.
    assert (
        read_api.post(url, json={}).get_json()["subject"] == "Please confirm your subscription to Mailer Demo"
    )
    refused = read_api.post(url, json={"body": "mailto:me@example.com"})
    assert refused.status_code == 422 and "body" in refused.get_json()["detail"]
    assert _stored() == 0
    assert (
        read_api.put(
            _email_url(demo_form), json={"subject": "a", "body": "b", "button_label": "c"}
        ).status_code
        == 403
    )


def test_reset_goes_back_to_the_built_in_wording_and_is_audited_once(
    app, api, demo_form, worker, smtp_server
):
    api.put(_email_url(demo_form), json={"subject": SUBJECT, "body": BODY, "button_label": BUTTON})
    reset = api.delete(_email_url(demo_form))
    assert reset.status_code == 200
    assert (
        reset.get_json()["edited"] is False and reset.get_json()["button_label"] == "Confirm my subscription"
    )
    assert api.delete(_email_url(demo_form)).status_code == 200  # already the default: nothing to audit
    assert [a.details.get("reset") for a in _audits("form.system_email")] == [None, True]
    assert _stored() == 0
    sign_up(app.test_client(), email="cy@example.com", name="Cy")
    worker.drain()
    [received] = smtp_server.to("cy@example.com")
    assert received.message["Subject"] == "Please confirm your subscription to Mailer Demo"


def test_a_lists_reconfirmation_email_per_language(api, write_key, demo_form):
    mailing_list = demo_form.lists[0]
    url = f"/lists/{mailing_list.public_id}/emails/reconfirmation"
    languages = [email["language"] for email in api.get(url).get_json()["data"]]
    assert sorted(languages) == ["de", "en", "es", "fr", "it"]
    italian = {
        "subject": "{{ organisation }}: vuole ancora le nostre email?",
        "body": "Buongiorno,\nvuole restare iscritto a {{ lists }}?",
        "button_label": "Sì, resto",
    }
    saved = api.put(f"{url}/it", json=italian)
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["kind"] == "reconfirmation" and saved.get_json()["edited"] is True
    assert api.get(f"{url}/en").get_json()["edited"] is False
    preview = api.post(f"{url}/it/preview", json={}).get_json()
    assert preview["subject"] == "Mailer Demo: vuole ancora le nostre email?"
    assert "vuole restare iscritto a Demo newsletter?" in preview["text"]
    assert "Sì, resto" in unescape(preview["html"])
    (audited,) = _audits("list.system_email")
    assert audited.details["via"] == "api" and audited.details["api_key"] == write_key[3:11]
    refused = api.put(f"{url}/de", json={**italian, "body": "<a href='x'>hier</a>"})
    assert refused.status_code == 422 and "body" in refused.get_json()["detail"]
    assert api.get(f"{url}/xx").status_code == 404
    assert api.get("/lists/nosuchlist/emails/reconfirmation").status_code == 404
