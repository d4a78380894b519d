"""Access and portability (Art. 15, 20): a ZIP with everything held about a person, as JSON and CSV,
plus the human-readable part Art. 15 requires. One collector function per kind of data."""

import io
import json
import zipfile
from datetime import date, datetime

from flask import current_app, render_template
from sqlalchemy import ForeignKey, select

from mailer.audit.models import AuditEvent
from mailer.campaigns.models import Campaign
from mailer.consent.ledger import contact_history
from mailer.consent.models import ConsentEvent, ConsentState, Notice
from mailer.contacts import fields as field_service
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.security import TokenExpired, TokenInvalid, make_token, read_token
from mailer.core.spreadsheet import dict_csv_text
from mailer.delivery.models import Delivery
from mailer.privacy.models.requests import PrivacyRequest
from mailer.privacy.notice import notice_content
from mailer.privacy.requests import request_by_public_id
from mailer.privacy.settings import RETENTION_CATEGORIES, get_settings, recipients, retention_days
from mailer.subscriptions.models.lists import Subscription

DOWNLOAD_MAX_AGE = 7 * 24 * 3600
# Tables the explicit collectors cover; any other table pointing at contacts is exported generically.
COVERED_TABLES = {
    "contacts",
    "contact_field_values",
    "subscriptions",
    "consent_events",
    "consent_states",
    "deliveries",
    "privacy_requests",
    "contact_keys",
    "repermission_emails",
    "tracking_events",
}


def _iso(value):
    return value.isoformat(timespec="seconds") if isinstance(value, (datetime, date)) else value


def collect_profile(contact: Contact, clear: bool) -> list[dict]:
    return [
        {
            "id": contact.public_id,
            "email": contact.email,
            "name": contact.name,
            "status": contact.status,
            "source": contact.source,
            "created_at": _iso(contact.created_at),
            "last_activity_at": _iso(contact.last_activity_at),
            "attributes": contact.attributes or {},
        }
    ]


def collect_fields(contact: Contact, clear: bool) -> list[dict]:
    """Custom field values; sensitive ones in clear only when the export goes to the person themself."""
    return [
        {"field": f.key, "label": f.label, "category": f.category, "value": shown}
        for f, shown in field_service.values_for(contact, clear_sensitive=clear)
    ]


def collect_subscriptions(contact: Contact, clear: bool) -> list[dict]:
    subs = db.session.execute(
        select(Subscription).where(Subscription.contact_id == contact.id).order_by(Subscription.id)
    ).scalars()
    return [
        {
            "list": s.mailing_list.name,
            "status": s.status,
            "source": s.source,
            "requested_at": _iso(s.requested_at),
            "confirmed_at": _iso(s.confirmed_at),
            "unsubscribed_at": _iso(s.unsubscribed_at),
        }
        for s in subs
    ]


def collect_consent_history(contact: Contact, clear: bool) -> list[dict]:
    """Every ledger event, with the exact words the person was shown (notice key, version and text)."""
    rows = []
    for ev in contact_history(contact):
        rows.append(
            {
                "event": ev.id,
                "at": _iso(ev.created_at),
                "action": ev.action,
                "purpose": ev.purpose.name if ev.purpose else None,
                "source": ev.source,
                "email": ev.email,
                "ip": ev.ip,
                "user_agent": ev.user_agent,
                "details": ev.details or {},
                "notice": f"{ev.notice.key} v{ev.notice.version}" if ev.notice else None,
                "notice_text": ev.notice.content if ev.notice else None,
            }
        )
    return rows


def collect_current_consent(contact: Contact, clear: bool) -> list[dict]:
    states = db.session.execute(select(ConsentState).where(ConsentState.contact_id == contact.id)).scalars()
    return [
        {
            "purpose": st.purpose.name,
            "legal_basis": st.purpose.legal_basis,
            "status": st.status,
            "since": _iso(st.updated_at),
        }
        for st in states
    ]


def _delivery_rows(contact: Contact, statuses: tuple[str, ...] = ()) -> list[dict]:
    """Deliveries joined to their campaign in one query (a person may have thousands)."""
    query = (
        select(
            Campaign.name,
            Campaign.subject,
            Delivery.status,
            Delivery.reason,
            Delivery.message_id,
            Delivery.queued_at,
            Delivery.finished_at,
        )
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(Delivery.contact_id == contact.id)
        .order_by(Delivery.id)
    )
    if statuses:
        query = query.where(Delivery.status.in_(statuses))
    return [
        {
            "campaign": name,
            "subject": subject,
            "status": status,
            "reason": reason,
            "message_id": message_id,
            "queued_at": _iso(queued_at),
            "finished_at": _iso(finished_at),
        }
        for name, subject, status, reason, message_id, queued_at, finished_at in db.session.execute(query)
    ]


def collect_deliveries(contact: Contact, clear: bool) -> list[dict]:
    """Every campaign email sent (or attempted) to the person, bounces included."""
    return _delivery_rows(contact)


def collect_bounces(contact: Contact, clear: bool) -> list[dict]:
    return _delivery_rows(contact, ("bounced", "failed"))


def _table_rows(table, link_column, contact: Contact) -> list[dict]:
    hidden = {"id", link_column.name}
    result = db.session.execute(select(table).where(link_column == contact.id)).mappings()
    return [
        {k: _iso(v) for k, v in row.items() if k not in hidden and not isinstance(v, bytes)} for row in result
    ]


def collect_tracking(contact: Contact, clear: bool) -> list[dict]:
    """Opens and clicks, where they were recorded (only with tracking consent)."""
    table = db.metadata.tables.get("tracking_events")
    if table is None or "contact_id" not in table.columns:
        return []
    return _table_rows(table, table.columns["contact_id"], contact)


def collect_requests(contact: Contact, clear: bool) -> list[dict]:
    reqs = db.session.execute(
        select(PrivacyRequest).where(PrivacyRequest.contact_id == contact.id).order_by(PrivacyRequest.id)
    ).scalars()
    return [
        {
            "request": r.public_id,
            "type": r.type,
            "channel": r.channel,
            "received_at": _iso(r.received_at),
            "due_at": _iso(r.deadline),
            "status": r.status,
            "outcome": r.outcome,
            "completed_at": _iso(r.completed_at),
        }
        for r in reqs
    ]


def collect_staff_access(contact: Contact, clear: bool) -> list[dict]:
    """What staff did with the person's data (from the audit log), without naming the staff members."""
    rows = db.session.execute(
        select(AuditEvent)
        .where(AuditEvent.target_type == "contact", AuditEvent.target_id == contact.public_id)
        .order_by(AuditEvent.id)
    ).scalars()
    return [
        {"at": _iso(ev.created_at), "action": ev.action, "role": ev.actor.role if ev.actor else "system"}
        for ev in rows
    ]


def collect_other(contact: Contact, clear: bool) -> list[dict]:
    """Rows of any other table that points at the contact (modules added later are never left out)."""
    rows = []
    for table in db.metadata.sorted_tables:
        if table.name in COVERED_TABLES:
            continue
        for column in table.columns:
            if any(
                isinstance(fk, ForeignKey) and fk.column.table.name == "contacts"
                for fk in column.foreign_keys
            ):
                rows += [{"table": table.name, **row} for row in _table_rows(table, column, contact)]
    return rows


COLLECTORS = [
    ("profile", collect_profile),
    ("fields", collect_fields),
    ("subscriptions", collect_subscriptions),
    ("consent_current", collect_current_consent),
    ("consent_history", collect_consent_history),
    ("deliveries", collect_deliveries),
    ("bounces", collect_bounces),
    ("tracking", collect_tracking),
    ("privacy_requests", collect_requests),
    ("staff_access", collect_staff_access),
    ("other_records", collect_other),
]


def collect(contact: Contact, clear: bool) -> dict[str, list[dict]]:
    """Run every collector."""
    return {name: collector(contact, clear) for name, collector in COLLECTORS}


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
            json.dumps({"generated_at": _iso(utcnow()), **data}, indent=2, ensure_ascii=False, default=str),
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
                        "created_at": _iso(n.created_at),
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
                organisation=current_app.config["MAILER_ORGANISATION"],
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
