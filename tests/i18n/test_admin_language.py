"""The admin speaks the language each staff member chose on their account page, else their browser's, else
English; public pages keep their own rule (the contact's language, else the browser's) whoever logged in."""

from datetime import datetime
from html import unescape

from sqlalchemy import func, insert, select

from mailer.audit.models import AuditEvent
from mailer.core.extensions import db
from mailer.staff.models.accounts import StaffUser
from tests.support.campaigns import newsletter
from tests.support.http import csrf_token
from tests.support.imports import upload_file


def _choose(client, language: str):
    page = client.get("/admin/account")
    return client.post(
        "/admin/account/language", data={"language": language, "csrf_token": csrf_token(page.text)}
    )


def _stored_language() -> str | None:
    db.session.expire_all()
    return db.session.execute(db.select(StaffUser.language)).scalar_one()


def test_without_a_choice_the_admin_follows_the_browser_else_english(auth):
    english = auth.get("/admin/")
    assert '<html lang="en">' in english.text and ">Dashboard</h1>" in english.text
    german = auth.get("/admin/", headers={"Accept-Language": "de-CH, de;q=0.9, en;q=0.5"})
    assert '<html lang="de">' in german.text
    assert ">Übersicht</h1>" in german.text and ">Kampagnen</a>" in german.text
    unknown = auth.get("/admin/", headers={"Accept-Language": "pt-BR"})
    assert '<html lang="en">' in unknown.text and ">Dashboard</h1>" in unknown.text


def test_a_chosen_language_wins_over_the_browser_until_the_browser_is_followed_again(auth, staff_user):
    answer = _choose(auth, "it")
    assert answer.status_code == 302 and _stored_language() == "it"
    account = auth.get(answer.headers["Location"], headers={"Accept-Language": "de"})
    text = unescape(account.text)
    assert '<html lang="it">' in text and "Lingua salvata." in text
    assert '<option selected value="it">Italiano</option>' in text
    dashboard = unescape(auth.get("/admin/", headers={"Accept-Language": "de"}).text)
    assert ">Bacheca</h1>" in dashboard and "Attività recente sui consensi" in dashboard
    assert "owner@example.com · proprietario" in dashboard  # the role's name too

    back = _choose(auth, "")
    assert back.status_code == 302 and _stored_language() is None
    assert ">Übersicht</h1>" in auth.get("/admin/", headers={"Accept-Language": "de"}).text


def test_a_language_the_admin_does_not_speak_is_refused_with_a_message(auth, staff_user):
    _choose(auth, "de")
    answer = _choose(auth, "pt")
    assert answer.status_code == 400
    assert "Keine gültige Auswahl." in unescape(answer.text)  # WTForms' own message, in the page's language
    assert _stored_language() == "de"


def test_times_and_numbers_are_written_the_chosen_languages_way(auth, staff_user):
    campaign, _ = newsletter(2)
    campaign.status, campaign.started_at = "sent", datetime(2026, 12, 1, 9, 30)
    db.session.commit()
    _choose(auth, "de")
    german = auth.get("/admin/").text
    assert 'title="01.12.26, 09:30 UTC" data-local="minute">01.12.26, 09:30 UTC</time>' in german
    _choose(auth, "en")
    english = auth.get("/admin/").text
    assert 'data-local="minute">2026-12-01 09:30 UTC</time>' in english


def test_public_pages_keep_their_rule_whoever_is_logged_in(auth, staff_user):
    _choose(auth, "it")
    broken = auth.get("/privacy/verify/nope", headers={"Accept-Language": "fr"})
    assert broken.status_code == 404 and '<html lang="fr">' in broken.text
    assert "Veuillez refaire la demande depuis le lien vers vos préférences" in unescape(broken.text)


def test_counts_in_the_thousands_are_written_the_chosen_languages_way(auth, staff_user, demo_form):
    """A large import's mapping step names its rows as people read numbers (1,234 / 1.234), not 1234."""
    list_id = demo_form.lists[0].id
    rows = b"email\n" + b"".join(b"p%d@example.com\n" % n for n in range(1234))
    mapping = upload_file(auth, list_id, rows).location
    english = unescape(auth.get(mapping).text)
    assert "1,234 rows into" in english and "Import 1,234 rows" in english
    _choose(auth, "de")
    german = unescape(auth.get(mapping).text)
    assert "1.234 Zeilen in" in german and "1.234 Zeilen importieren" in german


def test_the_audit_logs_count_in_the_thousands_is_written_the_chosen_languages_way(auth, staff_user):
    db.session.execute(insert(AuditEvent), [{"action": "contact.viewed", "details": {}}] * 1234)
    db.session.commit()
    total = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    assert f"{total:,} events" in unescape(auth.get("/admin/audit").text)
    _choose(auth, "de")
    german = f"{total:,} Ereignisse".replace(",", ".")
    assert german in unescape(auth.get("/admin/audit").text)
