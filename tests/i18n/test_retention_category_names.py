"""Retention categories are named in the viewer's language on the admin's privacy settings and retention
pages (issue 16); the stored privacy notice keeps its English words (its hashed version)."""

from mailer.privacy.notice import notice_content
from tests.support.signup import page

GERMAN = {"Accept-Language": "de-DE, de;q=0.9"}


def test_retention_categories_in_german(app, auth):
    settings = page(auth.get("/admin/settings/privacy", headers=GERMAN))
    assert "Aufzeichnungen von Öffnungen und Klicks" in settings
    assert "Open and click records" not in settings
    report = page(auth.get("/admin/retention", headers=GERMAN))
    assert "Nie per Double-Opt-in bestätigte Anmeldungen" in report
    assert "Sign-ups never confirmed by double opt-in" not in report


def test_the_notice_keeps_its_english_words(app_ctx):
    items = next(s for s in notice_content()["sections"] if s["heading"] == "How long we keep your data")[
        "items"
    ]
    assert "Open and click records: 365 days" in items
