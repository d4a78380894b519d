"""Erasure by anonymisation (Art. 17): every table loses the person, aggregates and the ledger chain stay.

The contact row is blanked here; every domain then removes the person from its own tables through its erasure
hook (mailer.privacy.hooks, registered in mailer.privacy.domain_hooks): ledger details, field values and the
data key, subscriptions, stored messages and failure texts, bounce diagnostics, request details and the audit
log's free text. As a safety net, personal-looking columns of any other table pointing at the contact are
blanked too.
"""

from sqlalchemy import ForeignKey, Table, delete, select, update

from mailer import audit
from mailer.audit.models import AuditEvent
from mailer.consent.ledger import RequestContext, record_consent
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.models.suppression import SuppressionReason
from mailer.contacts.personal_data import ErasedContact
from mailer.contacts.suppression import suppress
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.privacy.erasure_register import record_erasure
from mailer.privacy.hooks import current_hooks
from mailer.privacy.models.requests import PrivacyRequest, RepermissionEmail

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
# Request details that are names of things, not personal values, and survive erasure.
KEPT_DETAIL_KEYS = ("purposes", "action", "fields_changed", "erased", "source")
# Tables this module's own hook takes care of.
PRIVACY_TABLES = ("contacts", "privacy_requests", "repermission_emails", "audit_events")


def _contact_fk_columns(table: Table) -> list:
    return [
        c
        for c in table.columns
        if any(isinstance(fk, ForeignKey) and fk.column.table.name == "contacts" for fk in c.foreign_keys)
    ]


def _other_tables(handled: set[str]) -> list[tuple]:
    """(table, columns pointing at contacts, personal columns) of each unhandled table with personal data."""
    found = []
    for table in db.metadata.sorted_tables:
        if table.name in handled:
            continue
        links = _contact_fk_columns(table)
        personal = [c for c in table.columns if c.name in PERSONAL_COLUMNS and not c.foreign_keys]
        if links and personal:
            found.append((table, links, personal))
    return found


def _scrub_other_tables(contact: Contact, handled: set[str]) -> None:
    """Any table no hook handles: blank personal columns of rows about the contact (or delete the rows)."""
    for table, links, personal in _other_tables(handled):
        nullable = [c for c in personal if c.nullable]
        for link in links:
            if nullable:
                db.session.execute(
                    update(table).where(link == contact.id).values({c.name: None for c in nullable})
                )
            if len(nullable) < len(personal):  # personal data that cannot be blanked: the row itself must go
                db.session.execute(delete(table).where(link == contact.id))


def _scrub_audit_details(erased: ErasedContact) -> None:
    """Staff may have typed the person's name into a reason; erasure outranks the audit log's append-only rule
    for exactly that text (a Core UPDATE, deliberately past the ORM guard), while the rows themselves stay."""
    if not erased.needles:
        return
    query = select(AuditEvent.id, AuditEvent.details).where(
        AuditEvent.target_type == "contact", AuditEvent.target_id == erased.contact.public_id
    )
    table = AuditEvent.__table__
    for event_id, details in db.session.execute(query).all():
        cleaned = {k: erased.scrub(v) if isinstance(v, str) else v for k, v in (details or {}).items()}
        if cleaned != details:
            db.session.execute(update(table).where(table.c.id == event_id).values(details=cleaned))


def forget_requests(erased: ErasedContact) -> None:
    """Privacy's own part: re-permission asks go; request details, notes and audit text lose the person."""
    contact = erased.contact
    db.session.execute(delete(RepermissionEmail).where(RepermissionEmail.contact_id == contact.id))
    for req in db.session.execute(
        select(PrivacyRequest).where(PrivacyRequest.contact_id == contact.id)
    ).scalars():
        req.details = {k: v for k, v in (req.details or {}).items() if k in KEPT_DETAIL_KEYS}
        req.note = erased.scrub(req.note or "")
    _scrub_audit_details(erased)


def anonymise_contact(contact: Contact) -> None:
    """Blank the contact and let every domain remove the person from its tables; the caller records why and
    commits."""
    erased = ErasedContact(contact, contact.email, contact.name, dict(contact.attributes or {}))
    contact.email = contact.email_hash = contact.name = None
    contact.attributes = {}
    contact.status = ContactStatus.ERASED
    hooks = current_hooks()
    for hook in hooks.erasure.values():
        hook(erased)
    _scrub_other_tables(contact, hooks.handled_tables | set(PRIVACY_TABLES))
    db.session.flush()


def erase_contact(
    contact: Contact,
    ctx: RequestContext,
    request: PrivacyRequest | None = None,
    actor: object | None = None,
    ip: str | None = None,
    reason: str = "",
) -> None:
    """Erase a person: ledger event, anonymisation everywhere, a keyed-hash suppression against re-adding."""
    if contact.status == ContactStatus.ERASED:
        raise PrivacyError("This contact has already been erased.")
    address_hash = contact.email_hash
    details = {"request": request.public_id} if request is not None else {}
    if reason:
        details["reason"] = reason[:200]
    record_consent(contact, None, "erased", ctx, details=details)
    anonymise_contact(contact)
    record_erasure(contact, address_hash)
    if address_hash:
        # Blocks silent re-adding by import or API; a fresh double opt-in lifts it (signup.confirm).
        suppress(address_hash, SuppressionReason.ERASED)
    if actor is not None:
        audit.record("contact.erase", "contact", contact.public_id, details, actor=actor, ip=ip)
    db.session.flush()
