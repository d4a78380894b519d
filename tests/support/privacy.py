"""Helpers for the privacy tests: a person who really signed
up, links from their mail, fields, database dumps."""

import binascii
import quopri
import re
import sqlite3
import subprocess
from urllib.parse import urlsplit

from sqlalchemy import select

from mailer.consent.ledger import RequestContext, record_consent
from mailer.consent.models import Purpose
from mailer.contacts import fields as field_service
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.fields import ContactField
from mailer.core.extensions import db
from mailer.core.security import make_token
from mailer.delivery.models import OutboxMessage
from tests.support.http import consent_values, form_timer

FIELD_SPECS = [  # key, label, category, quasi-identifier
    ("postcode", "Postcode", "ordinary", "postcode"),
    ("birth_date", "Date of birth", "ordinary", "birth_date"),
    ("gender", "Gender", "ordinary", "gender"),
    ("company", "Company", "personal_identifier", ""),
    ("health", "Health condition", "sensitive", ""),
    ("national_id", "National id number", "sensitive", ""),
]


def sign_up_and_confirm(
    app,
    client,
    worker,
    email: str,
    name: str,
    *,
    ip: str,
    user_agent: str,
    confirm_ip: str,
    confirm_user_agent: str,
    all_consents: bool = True,
    answers: dict | None = None,
) -> Contact:
    """The hosted demo form and the confirmation link, as a person on a real network would use them.

    answers: custom fields the form asks for, by key (typed into the inputs named field_<key>).
    """
    consents = consent_values(client) if all_consents else consent_values(client)[:1]
    answered = {f"field_{key}": value for key, value in (answers or {}).items()}
    response = client.post(
        "/f/demo",
        data={
            "email": email,
            "name": name,
            "ts": form_timer(client),
            "website": "",
            "consent": consents,
            **answered,
        },
        headers={"User-Agent": user_agent},
        environ_base={"REMOTE_ADDR": ip},
    )
    assert response.status_code == 200, response.text
    worker.drain()
    [link] = links_in_mail(app, email, "/confirm/")
    response = client.post(
        link, headers={"User-Agent": confirm_user_agent}, environ_base={"REMOTE_ADDR": confirm_ip}
    )
    assert response.status_code == 200, response.text
    db.session.expire_all()
    return db.session.execute(select(Contact).where(Contact.email == email)).scalar_one()


def links_in_mail(app, address: str, path: str) -> list[str]:
    """Paths (starting with `path`) of every link in the
    local outbox's messages to an address, oldest first."""
    db.session.expire_all()
    base = app.config["MAILER_BASE_URL"]
    query = select(OutboxMessage).where(OutboxMessage.rcpt_to == address).order_by(OutboxMessage.id)
    found = []
    for message in db.session.execute(query).scalars():
        text = quopri.decodestring(message.raw).decode("utf-8", errors="replace")
        for url in re.findall(re.escape(base) + re.escape(path) + r"[A-Za-z0-9_.\-/]+", text):
            found.append(url[len(base) :])
    return list(dict.fromkeys(found))


def preference_path(contact: Contact, kind: str) -> str:
    """The self-service page of one right, as linked from the preference centre."""
    return f"/p/{make_token('preferences', contact.public_id)}/privacy/{kind}"


def define_fields() -> dict[str, ContactField]:
    """The custom fields the tests use (quasi-identifiers, an identifier and two sensitive ones)."""
    return {
        key: field_service.define_field(key, label, category, quasi_identifier=quasi)
        for key, label, category, quasi in FIELD_SPECS
    }


def fill_fields(contact: Contact, fields: dict[str, ContactField], values: dict[str, str]) -> None:
    """Store values; sensitive ones after the person's explicit consent to their purpose."""
    ctx = RequestContext("test:explicit-consent", ip="192.0.2.10", user_agent="ConsentBrowser/1.0")
    for key, value in values.items():
        field = fields[key]
        if field.is_sensitive:
            record_consent(contact, field.purpose, "granted", ctx, notice=field_service.consent_notice(field))
        field_service.set_value(contact, field, value)
    db.session.commit()


def ask_on_form(form, field: ContactField, label: str = "", required: bool = False):
    """Add a custom field to a form as the builder does; a
    sensitive one with its explicit-consent checkbox."""
    from mailer.subscriptions.forms import FieldSetting, save_form, settings_of

    settings = settings_of(form)
    settings.fields.append(FieldSetting(field.id, label, required))
    if field.is_sensitive:
        settings.purpose_ids.append(field.purpose_id)
    save_form(settings, form)
    db.session.commit()
    return form


def purpose(key: str) -> Purpose:
    return db.session.execute(select(Purpose).where(Purpose.key == key)).scalar_one()


def _decode_blobs(dump: str) -> str:
    """SQLite prints BLOBs as X'..' and pg_dump bytea as \\x..: decode them so their text is searched too."""
    decoded = []
    for hexa in re.findall(r"X'([0-9A-Fa-f]+)'", dump) + re.findall(r"\\{1,2}x([0-9a-f]{8,})", dump):
        try:
            raw = binascii.unhexlify(hexa)
        except binascii.Error:
            continue
        decoded.append(quopri.decodestring(raw).decode("utf-8", errors="replace"))
        decoded.append(raw.decode("utf-8", errors="replace"))
    return dump + "\n" + "\n".join(decoded)


def full_dump(app) -> str:
    """Every row of the test database as SQL (sqlite3 iterdump / pg_dump), with binary columns decoded."""
    db.session.commit()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite"):
        with (
            db.engine.connect() as conn
        ):  # fold the WAL into the file, so the dump reads everything committed
            conn.exec_driver_sql("PRAGMA wal_checkpoint(FULL)")
        connection = sqlite3.connect(url.split("sqlite:///", 1)[1])
        try:
            dump = "\n".join(connection.iterdump())
        finally:
            connection.close()
    else:
        parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
        result = subprocess.run(
            [
                "pg_dump",
                "--no-owner",
                "--data-only",
                "--inserts",
                "-h",
                parts.hostname,
                "-p",
                str(parts.port or 5432),
                "-U",
                parts.username or "postgres",
                parts.path.lstrip("/"),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        dump = result.stdout
    return _decode_blobs(dump)
