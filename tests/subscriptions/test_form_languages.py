"""Notices per language (issue 16): a form's wording is written in each language it offers, each language is
its own immutable notice version with its hash, the sign-up records the version actually shown, and a form
can't be published in a language whose wording is missing."""

import re
from html import unescape

from sqlalchemy import select

from mailer.consent.models import ConsentEvent, Notice
from mailer.consent.notices import notice_versions
from mailer.core.extensions import db
from mailer.subscriptions.lists import create_list
from mailer.subscriptions.models.lists import MailingList
from tests.support.html_forms import submit_form
from tests.support.http import consent_values, form_timer
from tests.support.signup import contact_by_email, page

ITALIAN = {"Accept-Language": "it-IT,it;q=0.9"}
GERMAN = {"Accept-Language": "de-DE,de;q=0.9"}


def _requested(email: str) -> list[ConsentEvent]:
    db.session.expire_all()
    query = select(ConsentEvent).where(ConsentEvent.email == email, ConsentEvent.action == "requested")
    return list(db.session.execute(query).scalars())


def _sign_up(client, headers, email, slug="demo", **extra):
    data = {
        "email": email,
        "name": "Ann",
        "ts": form_timer(client, slug),
        "website": "",
        "consent": consent_values(client, slug)[:1],
        **extra,
    }
    return client.post(f"/f/{slug}", data=data, headers={"User-Agent": "TestBrowser/1.0", **headers})


def _new_form(auth, **changes) -> tuple[str, object]:
    """Create an English form offering one new list through the admin; returns its public id and answer."""
    news = db.session.execute(select(MailingList).where(MailingList.name == "Notizie")).scalar_one_or_none()
    if news is None:
        news = create_list("Notizie", "", "public")
        db.session.commit()
    shown = auth.get("/admin/forms/new").text
    return submit_form(
        auth,
        "/admin/forms/new",
        shown,
        name="Shop form",
        slug="shop",
        lists=str(news.id),
        **changes,
    )


def test_the_demo_form_speaks_each_browsers_language_and_records_that_version(app, client, auth, demo_form):
    italian = page(client.get("/f/demo", headers=ITALIAN))
    assert "Iscriviti alla newsletter dimostrativa" in italian
    assert "Sì, inviatemi “Demo newsletter” via email." in italian
    assert 'name="lang" value="it"' in italian
    assert "Abonnieren Sie den Demo-Newsletter" in page(client.get("/f/demo", headers=GERMAN))
    assert "Subscribe to the demo newsletter" in page(
        client.get("/f/demo", headers={"Accept-Language": "ja"})
    )

    assert _sign_up(client, ITALIAN, "anna@example.com").status_code == 200
    [event] = _requested("anna@example.com")
    notice = event.notice
    assert notice.key == f"form:{demo_form.public_id}:it" and notice.version == 1
    assert notice.content["language"] == "it"
    assert notice.content["title"] == "Iscriviti alla newsletter dimostrativa"
    assert notice.content["checkboxes"][0]["label"] == "Sì, inviatemi “Demo newsletter” via email."
    assert event.details["language"] == "it"
    assert contact_by_email("anna@example.com").language == "it"

    evidence = page(auth.get(f"/admin/contacts/{contact_by_email('anna@example.com').public_id}/evidence"))
    assert f"notice “form:{demo_form.public_id}:it”, Italiano wording, version 1" in evidence
    assert notice.content_hash in evidence
    assert "Iscriviti alla newsletter dimostrativa" in evidence
    assert "Subscribe to the demo newsletter" not in evidence


def test_the_snippets_language_is_the_one_recorded_whatever_the_browser(app, client, auth, demo_form):
    snippet = unescape(page(auth.get(f"/admin/forms/{demo_form.public_id}?lang=it")))
    assert '<input type="hidden" name="lang" value="it">' in snippet
    assert '<button type="submit">Iscriviti</button>' in snippet
    # A German browser posting the Italian snippet read the Italian words: that version is the proof.
    assert _sign_up(client, GERMAN, "bea@example.com", lang="it").status_code == 200
    [event] = _requested("bea@example.com")
    assert event.notice.key.endswith(":it") and event.details["language"] == "it"
    assert contact_by_email("bea@example.com").language == "it"
    # A language the form is not published in is ignored: the browser's among the published ones.
    assert _sign_up(client, GERMAN, "carl@example.com", lang="xx").status_code == 200
    [event] = _requested("carl@example.com")
    assert event.notice.key.endswith(":de") and event.details["language"] == "de"


def test_changing_a_languages_wording_is_a_new_version_and_old_proof_keeps_the_old_words(
    app, client, auth, demo_form
):
    _sign_up(client, ITALIAN, "anna@example.com")
    url = f"/admin/forms/{demo_form.public_id}/languages/it"
    answer = submit_form(auth, url, auth.get(url).text, title="La nostra newsletter, in italiano")
    assert answer.status_code == 302
    assert "Italiano wording published (wording version 2)." in page(auth.get(answer.headers["Location"]))
    v2, v1 = notice_versions(f"form:{demo_form.public_id}:it")
    assert v1.content["title"] == "Iscriviti alla newsletter dimostrativa"
    assert v2.content["title"] == "La nostra newsletter, in italiano" and v1.content_hash != v2.content_hash
    # the other languages did not move
    assert len(notice_versions(f"form:{demo_form.public_id}:de")) == 1
    assert len(notice_versions(f"form:{demo_form.public_id}")) == 1
    assert [e.notice_id for e in _requested("anna@example.com")] == [v1.id]
    _sign_up(client, ITALIAN, "bruno@example.com")
    assert [e.notice_id for e in _requested("bruno@example.com")] == [v2.id]
    assert "La nostra newsletter, in italiano" in page(client.get("/f/demo", headers=ITALIAN))


def test_a_form_cannot_be_published_in_a_language_without_its_wording(app, client, auth):
    refused = _new_form(auth, languages=["en", "de"])
    assert refused.status_code == 400
    assert (
        "The form can't be published in Deutsch: its wording in that language is missing, so there is no "
        "notice for people to agree to." in page(refused)
    )
    refused = _new_form(auth, language="it")
    assert refused.status_code == 400
    assert "The form can't be shown in Italiano: it is not published in that language." in page(refused)
    assert db.session.execute(select(Notice).where(Notice.key.like("form:%"))).first() is None

    created = _new_form(auth)
    assert created.status_code == 302
    form_page = page(auth.get(created.headers["Location"]))
    assert re.search(
        r"Deutsch</th>\s*<td><span class=\"text-body-secondary\">no wording: can't be published", form_page
    )
    public_id = created.headers["Location"].rstrip("/").rsplit("/", 1)[1]
    # An Italian visitor sees the English form until Italian wording is published.
    assert "Subscribe to our newsletter" in page(client.get("/f/shop", headers=ITALIAN))

    url = f"/admin/forms/{public_id}/languages/it"
    missing = submit_form(auth, url, auth.get(url).text, title="", button_label="")
    assert missing.status_code == 400
    written = submit_form(
        auth, url, auth.get(url).text, title="Iscriviti alle notizie", button_label="Iscriviti", publish=None
    )
    assert written.status_code == 302
    assert "Italiano wording saved, not published (wording version 1)." in page(
        auth.get(written.headers["Location"])
    )
    assert "Subscribe to our newsletter" in page(client.get("/f/shop", headers=ITALIAN))

    published = submit_form(auth, url, auth.get(url).text, title="Iscriviti alle notizie", publish="y")
    assert published.status_code == 302
    italian = page(client.get("/f/shop", headers=ITALIAN))
    assert "Iscriviti alle notizie" in italian and "Sì, inviatemi “Notizie” via email." in italian
    assert len(notice_versions(f"form:{public_id}:it")) == 1  # same words: same version


def test_a_wording_page_for_an_unknown_language_or_the_forms_own_is_not_found(app, auth, demo_form):
    assert auth.get(f"/admin/forms/{demo_form.public_id}/languages/xx").status_code == 404
    assert auth.get(f"/admin/forms/{demo_form.public_id}/languages/en").status_code == 404
