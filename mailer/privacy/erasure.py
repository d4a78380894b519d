"""Erasure by anonymisation (Art. 17): every table loses the person, aggregates and the ledger chain stay.

services/erasure.anonymise_contact blanks the contact and its ledger rows and then calls scrub_contact_data()
here for everything else: field values (and the contact's data key, so ciphertexts become unreadable),
quasi-identifiers (coarsened), request details, delivery error texts quoting the address, tracking rows,
and, as a safety net, personal-looking columns of any other table pointing at the contact.
"""

import re
from datetime import date

from sqlalchemy import ForeignKey, delete, select, update

from mailer import audit
from mailer.audit.models import AuditEvent
from mailer.consent.ledger import RequestContext, record_consent
from mailer.contacts import keys
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.fields import ContactFieldValue
from mailer.contacts.suppression import suppress
from mailer.core.clock import utcnow
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.delivery.models import Delivery, OutboxMessage
from mailer.privacy.models.requests import PrivacyRequest, RepermissionEmail
from mailer.staff.models.accounts import StaffUser
from mailer.subscriptions.models.lists import Subscription

# Columns that hold personal data wherever they appear next to a contact_id (the safety net).
PERSONAL_COLUMNS = (
    "email",
    "ip",
    "ip_address",
    "user_agent",
    "name",
    "first_name",
    "last_name",
    "phone",
    "address",
    "postcode",
    "birth_date",
    "gender",
    "rcpt_to",
    "remote_addr",
)
# Tables handled explicitly (or, for the ledger, by the foundation with its append-only guard).
HANDLED_TABLES = {
    "contacts",
    "consent_events",
    "consent_states",
    "contact_field_values",
    "contact_keys",
    "privacy_requests",
    "repermission_emails",
    "deliveries",
    "subscriptions",
}
# Request details that are names of things, not personal values, and survive erasure.
KEPT_DETAIL_KEYS = ("purposes", "action", "fields_changed", "erased", "source")


def coarsen(kind: str, value: str) -> str | None:
    """A quasi-identifier reduced to something that no longer singles a person out (or None: removed)."""
    value = (value or "").strip()
    if kind == "postcode" and value:
        return value[:2] + "…"  # the region, e.g. "10…" of 10115
    if kind == "birth_date":
        match = re.search(r"(1[89]|20)\d\d", value)
        return f"{match.group(0)[:3]}0s" if match else None  # the decade
    return None  # gender and anything else: removed


def _coarse_quasi_identifiers(contact: Contact, attributes: dict) -> dict:
    """Coarsened postcode / birth decade from declared fields and free-form attributes."""
    coarse = {}
    rows = db.session.execute(
        select(ContactFieldValue).where(ContactFieldValue.contact_id == contact.id)
    ).scalars()
    for row in rows:
        if row.field.quasi_identifier and not row.field.is_sensitive:
            kept = coarsen(row.field.quasi_identifier, row.value or "")
            if kept:
                coarse[row.field.key] = kept
    for key in ("postcode", "zip", "postal_code", "birth_date", "birthday", "date_of_birth"):
        if isinstance(attributes.get(key), (str, int, date)):
            kind = "postcode" if key in ("postcode", "zip", "postal_code") else "birth_date"
            kept = coarsen(kind, str(attributes[key]))
            if kept:
                coarse[key] = kept
    return coarse


def _scrub_text(text: str, needles: list[str]) -> str:
    """Replace whole-word occurrences of the address and the name (and its parts) in free text."""
    for needle in sorted(needles, key=len, reverse=True):
        text = re.sub(r"(?<!\w)" + re.escape(needle) + r"(?!\w)", "[erased]", text, flags=re.I)
    return text


def _needles(email: str | None, name: str | None) -> list[str]:
    """What identifies the person in free text: the address, its local part, the name and each longer name part."""
    found = [email, email.split("@")[0] if email else None, name, *((name or "").replace("-", " ").split())]
    return list(dict.fromkeys(n for n in found if n and len(n) >= 3))


def _contact_fk_columns(table):
    return [
        c
        for c in table.columns
        if any(isinstance(fk, ForeignKey) and fk.column.table.name == "contacts" for fk in c.foreign_keys)
    ]


def _other_tables() -> list[tuple]:
    """(table, columns pointing at contacts, personal columns) of every other table holding personal columns."""
    found = []
    for table in db.metadata.sorted_tables:
        if table.name in HANDLED_TABLES:
            continue
        links = _contact_fk_columns(table)
        personal = [c for c in table.columns if c.name in PERSONAL_COLUMNS and not c.foreign_keys]
        if links and personal:
            found.append((table, links, personal))
    return found


def _scrub_other_tables(contact: Contact) -> None:
    """Any table another module added: blank personal columns of rows about the contact (or delete the rows)."""
    for table, links, personal in _other_tables():
        nullable = [c for c in personal if c.nullable]
        for link in links:
            if nullable:
                db.session.execute(
                    update(table).where(link == contact.id).values({c.name: None for c in nullable})
                )
            if len(nullable) < len(personal):  # personal data that cannot be blanked: the row itself must go
                db.session.execute(delete(table).where(link == contact.id))


def _scrub_audit_details(contact: Contact, needles: list[str]) -> None:
    """Staff may have typed the person's name into a reason; erasure outranks the audit log's append-only rule
    for exactly that text (a Core UPDATE, deliberately past the ORM guard), while the rows themselves stay."""
    if not needles:
        return
    query = select(AuditEvent.id, AuditEvent.details).where(
        AuditEvent.target_type == "contact", AuditEvent.target_id == contact.public_id
    )
    for event_id, details in db.session.execute(query).all():
        cleaned = {
            k: _scrub_text(v, needles) if isinstance(v, str) else v for k, v in (details or {}).items()
        }
        if cleaned != details:
            db.session.execute(
                update(AuditEvent.__table__)
                .where(AuditEvent.__table__.c.id == event_id)
                .values(details=cleaned)
            )


def scrub_contact_data(contact: Contact, email: str | None, name: str | None, attributes: dict) -> None:
    """Remove the contact's data from every table beyond the contact row and the ledger; the caller commits."""
    coarse = _coarse_quasi_identifiers(contact, attributes or {})
    db.session.execute(delete(ContactFieldValue).where(ContactFieldValue.contact_id == contact.id))
    keys.shred(contact)
    contact.attributes = {"coarsened": coarse} if coarse else {}
    contact.last_activity_at = None
    db.session.execute(delete(RepermissionEmail).where(RepermissionEmail.contact_id == contact.id))
    now = utcnow()
    for sub in db.session.execute(
        select(Subscription).where(Subscription.contact_id == contact.id)
    ).scalars():
        if sub.status != "unsubscribed":
            sub.status, sub.unsubscribed_at = "unsubscribed", now
    for req in db.session.execute(
        select(PrivacyRequest).where(PrivacyRequest.contact_id == contact.id)
    ).scalars():
        req.details = {k: v for k, v in (req.details or {}).items() if k in KEPT_DETAIL_KEYS}
        req.note = _scrub_text(req.note or "", _needles(email, name))
    needles = _needles(email, name)
    if needles:
        for delivery in db.session.execute(
            select(Delivery).where(Delivery.contact_id == contact.id, Delivery.reason != "")
        ).scalars():
            delivery.reason = _scrub_text(delivery.reason, needles)
    if email:
        db.session.execute(delete(OutboxMessage).where(OutboxMessage.rcpt_to.contains(email)))
    _scrub_audit_details(contact, needles)
    _scrub_other_tables(contact)
    db.session.flush()


def erase_contact(
    contact: Contact,
    ctx: RequestContext,
    request: PrivacyRequest | None = None,
    actor: StaffUser | None = None,
    ip: str | None = None,
    reason: str = "",
) -> None:
    """Erase a person: ledger event, anonymisation everywhere, and a keyed-hash suppression against re-adding."""
    from mailer.privacy.anonymise import anonymise_contact

    if contact.status == "erased":
        raise PrivacyError("This contact has already been erased.")
    address_hash = contact.email_hash
    details = {"request": request.public_id} if request is not None else {}
    if reason:
        details["reason"] = reason[:200]
    record_consent(contact, None, "erased", ctx, details=details)
    anonymise_contact(contact)
    if address_hash:
        # Blocks silent re-adding by import or API; a fresh double opt-in lifts it (signup.confirm).
        suppress(address_hash, "erased")
    if actor is not None:
        audit.record("contact.erase", "contact", contact.public_id, details, actor=actor, ip=ip)
    db.session.flush()
