"""Everything held about one person, collected table by table for access and portability (Art. 15, 20).

One collector function per kind of data; any other table pointing at contacts is exported generically.
"""

from datetime import date, datetime

from sqlalchemy import ForeignKey, select

from mailer.audit.models import AuditEvent
from mailer.campaigns.models import Campaign
from mailer.consent.ledger import contact_history
from mailer.consent.models import ConsentState
from mailer.contacts import fields as field_service
from mailer.contacts.models.contact import Contact
from mailer.contacts.tags import tags_of
from mailer.core.extensions import db
from mailer.delivery.models import Delivery
from mailer.privacy.models.requests import PrivacyRequest
from mailer.subscriptions.models.lists import Subscription

# Tables the explicit collectors cover; any other table pointing at contacts is exported generically.
COVERED_TABLES = {
    "contacts",
    "contact_field_values",
    "contact_tags",
    "subscriptions",
    "consent_events",
    "consent_states",
    "deliveries",
    "privacy_requests",
    "contact_keys",
    "repermission_emails",
    "tracking_events",
}


def iso_time(value):
    return value.isoformat(timespec="seconds") if isinstance(value, (datetime, date)) else value


def collect_profile(contact: Contact, clear: bool) -> list[dict]:
    return [
        {
            "id": contact.public_id,
            "email": contact.email,
            "name": contact.name,
            "status": contact.status,
            "source": contact.source,
            "created_at": iso_time(contact.created_at),
            "last_activity_at": iso_time(contact.last_activity_at),
            "attributes": contact.attributes or {},
        }
    ]


def collect_fields(contact: Contact, clear: bool) -> list[dict]:
    """Custom field values; sensitive ones in clear only when the export goes to the person themself."""
    return [
        {"field": f.key, "label": f.label, "category": f.category, "value": shown}
        for f, shown in field_service.values_for(contact, clear_sensitive=clear)
    ]


def collect_tags(contact: Contact, clear: bool) -> list[dict]:
    """The tags staff gave the person, by name (the generic export would show only their ids)."""
    return [{"tag": tag.name} for tag in tags_of([contact.id]).get(contact.id, [])]


def collect_subscriptions(contact: Contact, clear: bool) -> list[dict]:
    subs = db.session.execute(
        select(Subscription).where(Subscription.contact_id == contact.id).order_by(Subscription.id)
    ).scalars()
    return [
        {
            "list": s.mailing_list.name,
            "status": s.status,
            "source": s.source,
            "requested_at": iso_time(s.requested_at),
            "confirmed_at": iso_time(s.confirmed_at),
            "unsubscribed_at": iso_time(s.unsubscribed_at),
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
                "at": iso_time(ev.created_at),
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
            "since": iso_time(st.updated_at),
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
            "queued_at": iso_time(queued_at),
            "finished_at": iso_time(finished_at),
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
        {k: iso_time(v) for k, v in row.items() if k not in hidden and not isinstance(v, bytes)}
        for row in result
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
            "received_at": iso_time(r.received_at),
            "due_at": iso_time(r.deadline),
            "status": r.status,
            "outcome": r.outcome,
            "completed_at": iso_time(r.completed_at),
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
        {"at": iso_time(ev.created_at), "action": ev.action, "role": ev.actor.role if ev.actor else "system"}
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
    ("tags", collect_tags),
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
