"""Access and portability (Art. 15, 20): a ZIP with everything held about a person, as JSON and CSV,
plus the human-readable part Art. 15 requires (the data itself: mailer.privacy.subject_data)."""

import io
import json
import zipfile

from flask import render_template
from sqlalchemy import select

from mailer.consent.models import ConsentEvent, Notice
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.security import TokenExpired, TokenInvalid, make_token, read_token
from mailer.core.spreadsheet import dict_csv_text
from mailer.organisation import settings as organisation_settings
from mailer.privacy.models.requests import PrivacyRequest
from mailer.privacy.notice import notice_content
from mailer.privacy.requests import request_by_public_id
from mailer.privacy.settings import RETENTION_CATEGORIES, get_settings, recipients, retention_days
from mailer.privacy.subject_data import collect, iso_time

DOWNLOAD_MAX_AGE = 7 * 24 * 3600


def _csv(rows: list[dict]) -> str:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    flat = [
        {k: json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v for k, v in row.items()}
        for row in rows
    ]
    return dict_csv_text(flat, columns or ["(no records)"])


def art15_information(contact: Contact) -> dict:
    """The human-readable part: purposes, categories, recipients, retention, source, rights,
    complaint (Art. 15(1))."""
    settings = get_settings()
    first = db.session.execute(
        select(ConsentEvent).where(ConsentEvent.contact_id == contact.id).order_by(ConsentEvent.id).limit(1)
    ).scalar_one_or_none()
    source = f"You gave it to us yourself ({contact.source or 'sign-up'}"
    source += f", first on {first.created_at:%d %B %Y})." if first else ")."
    return {
        "controller": settings.controller_name,
        "generated_at": utcnow().strftime("%d %B %Y %H:%M UTC"),
        "categories": [
            "Contact data: email address, name",
            "Your subscriptions and consent history (with IP address and browser at each step)",
            "Emails we sent you and whether they arrived",
            "Opens and clicks, only if you allowed tracking",
            "Custom fields you gave us",
            "Your privacy requests",
        ],
        "source": source,
        "recipients": [
            f"{r.name} ({r.role}{', ' + r.country if r.country else ''})"
            + (f", transfer protected by {r.safeguard}" if r.outside_eea else "")
            for r in recipients()
        ],
        "retention": [
            f"{label}: {retention_days(key)} days" for key, (_, label) in RETENTION_CATEGORIES.items()
        ],
        "notice": notice_content(),
        "automated_decisions": (
            settings.automated_decisions or "No automated decisions or profiling with legal effects."
        ),
    }


def build_zip(contact: Contact, clear_sensitive: bool) -> bytes:
    """The ZIP: data.json, one CSV per kind of data, notices.json,
    and the human-readable README (HTML and text)."""
    data = collect(contact, clear_sensitive)
    info = art15_information(contact)
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
        archive.writestr(
            "README.html",
            render_template(
                "public/privacy_export.html",
                info=info,
                data=data,
                organisation=organisation_settings.name(),
            ),
        )
        archive.writestr("README.txt", render_template("public/privacy_export.txt", info=info, data=data))
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
