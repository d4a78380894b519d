"""Audit actions are named in the viewer's language (issue 16): the audit log page and a privacy request's
history show the words in German for a German browser, the CSV export keeps the stored code in its `action`
column and adds the words in the exporter's language at the end; the stored code never changes."""

import csv
import io

from sqlalchemy import select

from mailer import audit
from mailer.audit.models import AuditEvent
from mailer.core.extensions import db
from mailer.core.i18n import speaking
from tests.support.http import csrf_token
from tests.support.signup import page

GERMAN = {"Accept-Language": "de-DE, de;q=0.9"}


def test_every_action_has_words_in_each_language(app_ctx):
    with speaking("en"):
        english = {code: str(words) for code, words in audit.ACTIONS.items()}
    for language in ("it", "de", "fr", "es"):
        with speaking(language):
            same = [code for code, words in audit.ACTIONS.items() if str(words) == english[code]]
        assert not same, (language, same)
    with speaking("it"):
        assert audit.action_name("tx_template.created") == "Modello transazionale creato"
        assert audit.action_name("something.new") == "something.new"  # an unknown code reads as stored


def test_the_audit_log_and_its_export_in_german(app, auth, staff_user):
    audit.record("dkim.create", "domain", "shop.example", {"selector": "s2"}, actor=staff_user)
    db.session.commit()

    shown = page(auth.get("/admin/audit", headers=GERMAN))
    assert "<td>DKIM-Schlüssel zum Veröffentlichen neben dem signierenden erstellt</td>" in shown
    assert '<option value="audit.export">Audit-Log exportiert</option>' in shown
    assert "Created a DKIM key" not in shown

    exported = auth.get("/admin/audit.csv?action=dkim.", headers=GERMAN)
    header, row = list(csv.reader(io.StringIO(exported.text)))
    assert header[:4] == ["id", "created_at_utc", "actor", "action"] and header[-1] == "action_label"
    assert row[3] == "dkim.create"
    assert row[8] == "DKIM-Schlüssel zum Veröffentlichen neben dem signierenden erstellt"
    english = list(csv.reader(io.StringIO(auth.get("/admin/audit.csv?action=dkim.").text)))
    assert english[1][8] == "Created a DKIM key to publish beside the signing one"
    stored = db.session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars().all()
    assert "dkim.create" in stored and "audit.export" in stored


def test_a_privacy_requests_history_names_actions_in_german(app, auth):
    token = csrf_token(auth.get("/admin/privacy/new").text)
    created = auth.post(
        "/admin/privacy/new",
        data={"csrf_token": token, "type": "access", "email": "person@example.com", "channel": "email"},
    )
    assert created.status_code == 302, created.text
    shown = page(auth.get(created.headers["Location"], headers=GERMAN))
    assert "Datenschutzanfrage erfasst" in shown and "request.create" not in shown
