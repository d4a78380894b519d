"""Access and portability (Art. 15, 20): a ZIP with everything held about a person, as JSON and CSV,
plus the human-readable part Art. 15 requires (the data itself: mailer.privacy.subject_data)."""

import io
import json
import zipfile

from flask import render_template
from flask_babel import format_date, format_time, gettext, lazy_gettext, ngettext
from sqlalchemy import select

from mailer.consent.models import ConsentEvent, Notice
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.core import i18n
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.security import TokenExpired, TokenInvalid, make_token, read_token
from mailer.core.spreadsheet import dict_csv_text
from mailer.organisation import settings as organisation_settings
from mailer.privacy.models.requests import PrivacyRequest
from mailer.privacy.notice import notice_content
from mailer.privacy.requests import request_by_public_id
from mailer.privacy.settings import (
    RETENTION_CATEGORIES,
    get_settings,
    recipients,
    retention_category_name,
    retention_days,
)
from mailer.privacy.subject_data import collect, iso_time

DOWNLOAD_MAX_AGE = 7 * 24 * 3600
# What each kind of data (subject_data.COLLECTORS; the names of its CSV files) is called in the README.
DATA_KIND_NAMES = {
    "profile": lazy_gettext("Your profile"),
    "fields": lazy_gettext("Other details you gave us"),
    "tags": lazy_gettext("Tags"),
    "subscriptions": lazy_gettext("Subscriptions"),
    "consent_current": lazy_gettext("Your consent as it stands"),
    "consent_history": lazy_gettext("Consent history"),
    "deliveries": lazy_gettext("Emails we sent you"),
    "bounces": lazy_gettext("Bounces"),
    "tracking": lazy_gettext("Opens and clicks"),
    "privacy_requests": lazy_gettext("Your privacy requests"),
    "staff_access": lazy_gettext("Staff access to your data"),
    "other_records": lazy_gettext("Other records"),
}
RECIPIENT_ROLE_NAMES = {
    "processor": lazy_gettext("processor"),
    "controller": lazy_gettext("controller"),
    "integration": lazy_gettext("integration"),
}


def _csv(rows: list[dict]) -> str:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    flat = [
        {k: json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v for k, v in row.items()}
        for row in rows
    ]
    return dict_csv_text(flat, columns or ["(no records)"])


def _recipient_line(r) -> str:
    role = str(RECIPIENT_ROLE_NAMES.get(r.role, r.role))
    if r.country:
        where = gettext("%(name)s (%(role)s, %(country)s)", name=r.name, role=role, country=r.country)
    else:
        where = gettext("%(name)s (%(role)s)", name=r.name, role=role)
    if r.outside_eea:  # the safeguard is written by staff in the privacy settings: as written
        return gettext(
            "%(recipient)s, transfer protected by %(safeguard)s", recipient=where, safeguard=r.safeguard
        )
    return where


def art15_information(contact: Contact) -> dict:
    """The human-readable part: purposes, categories, recipients, retention, source, rights,
    complaint (Art. 15(1)), in the language being spoken (build_zip speaks the person's)."""
    settings = get_settings()
    first = db.session.execute(
        select(ConsentEvent).where(ConsentEvent.contact_id == contact.id).order_by(ConsentEvent.id).limit(1)
    ).scalar_one_or_none()
    now = utcnow()
    how = contact.source or gettext("sign-up")
    if first:
        source = gettext(
            "You gave it to us yourself (%(how)s, first on %(date)s).",
            how=how,
            date=format_date(first.created_at, "long"),
        )
    else:
        source = gettext("You gave it to us yourself (%(how)s).", how=how)
    return {
        "controller": settings.controller_name,
        "generated_at": gettext(
            "%(date)s, %(time)s UTC", date=format_date(now, "long"), time=format_time(now, "HH:mm")
        ),
        "categories": [
            gettext("Contact data: email address, name"),
            gettext("Your subscriptions and consent history (with IP address and browser at each step)"),
            gettext("Emails we sent you and whether they arrived"),
            gettext("Opens and clicks, only if you allowed tracking"),
            gettext("Custom fields you gave us"),
            gettext("Your privacy requests"),
        ],
        "source": source,
        "recipients": [_recipient_line(r) for r in recipients()],
        "retention": [
            ngettext(
                "%(what)s: %(num)d day",
                "%(what)s: %(num)d days",
                retention_days(key),
                what=retention_category_name(key),
            )
            for key in RETENTION_CATEGORIES
        ],
        # The privacy notice in this download's language, as published (its words are its hashed version).
        "notice": notice_content(i18n.current_language()),
        "automated_decisions": (
            settings.automated_decisions or gettext("No automated decisions or profiling with legal effects.")
        ),
    }


def build_zip(contact: Contact, clear_sensitive: bool, fallback_language: str | None = None) -> bytes:
    """The ZIP: data.json, one CSV per kind of data, notices.json, and the human-readable README (HTML and
    text) in the person's language: the contact's own, else `fallback_language` (the browser's, when the
    person downloads it), else English."""
    data = collect(contact, clear_sensitive)
    notice_ids = set(
        db.session.execute(
            select(ConsentEvent.notice_id)
            .where(ConsentEvent.contact_id == contact.id, ConsentEvent.notice_id.is_not(None))
            .distinct()
        ).scalars()
    )
    notices = db.session.execute(
        select(Notice).where(Notice.id.in_(notice_ids)).order_by(Notice.id)
    ).scalars()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "data.json",
            json.dumps(
                {"generated_at": iso_time(utcnow()), **data}, indent=2, ensure_ascii=False, default=str
            ),
        )
        for name, rows in data.items():
            archive.writestr(f"csv/{name}.csv", _csv(rows))
        archive.writestr(
            "notices.json",
            json.dumps(
                [
                    {
                        "key": n.key,
                        "version": n.version,
                        "created_at": iso_time(n.created_at),
                        "content": n.content,
                    }
                    for n in notices
                ],
                indent=2,
                ensure_ascii=False,
            ),
        )
        # The person's language, as their pages and mail; staff's words (settings, notice) stay as written.
        with i18n.speaking(i18n.supported(contact.language) or fallback_language):
            info = art15_information(contact)
            kinds = {name: str(DATA_KIND_NAMES.get(name, name.replace("_", " "))) for name in data}
            readme = render_template(
                "public/privacy_export.html",
                info=info,
                data=data,
                kinds=kinds,
                organisation=organisation_settings.name(),
            )
            readme_text = render_template("public/privacy_export.txt", info=info, data=data, kinds=kinds)
        archive.writestr("README.html", readme)
        archive.writestr("README.txt", readme_text)
    return buffer.getvalue()


def download_token(req: PrivacyRequest) -> str:
    return make_token("export", req.public_id)


def request_for_download(token: str) -> PrivacyRequest | None:
    """The verified access request a download link belongs to, or None when the link is bad or stale."""
    try:
        public_id = read_token("export", token, max_age=DOWNLOAD_MAX_AGE)
    except (TokenExpired, TokenInvalid):
        return None
    req = request_by_public_id(public_id) if isinstance(public_id, str) else None
    if req is None or req.type not in ("access", "portability") or req.identity_verified_at is None:
        return None
    if req.contact is None or req.contact.status == ContactStatus.ERASED:
        return None
    return req
