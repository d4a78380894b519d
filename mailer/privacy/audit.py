"""The append-only audit log of staff actions on personal data and settings (accountability, Art. 5(2))."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from mailer.core.extensions import db
from mailer.privacy.models.audit import AuditEvent
from mailer.staff.models.accounts import StaffUser
from mailer.core.spreadsheet import csv_text

# Every action the app writes, with the words the admin shows for it.
ACTIONS = {
    "contact.view_sensitive": "Revealed a sensitive field",
    "contact.edit": "Edited a contact",
    "contact.export": "Exported a contact's data",
    "contact.erase": "Erased a contact",
    "contact.restrict": "Restricted a contact",
    "contact.unrestrict": "Lifted a restriction",
    "contact.object": "Recorded an objection",
    "contacts.import": "Imported contacts",
    "request.create": "Logged a privacy request",
    "request.update": "Updated a privacy request",
    "request.extend": "Extended a privacy request",
    "request.notify": "Notified a recipient (Art. 19)",
    "settings.update": "Changed privacy settings",
    "settings.field": "Changed a contact field",
    "settings.recipient": "Changed a data recipient",
    "notice.publish": "Published the privacy notice",
    "retention.run": "Applied retention",
    "keys.reencrypt": "Re-encrypted data keys",
    "staff.create": "Created a staff account",
    "staff.role": "Changed a staff role",
    "staff.deactivate": "Deactivated a staff account",
    "staff.activate": "Reactivated a staff account",
    "staff.invite": "Invited someone to the admin",
    "staff.invite_resend": "Sent a staff invitation again",
    "staff.invite_revoke": "Revoked a staff invitation",
    "staff.invite_accept": "Accepted a staff invitation (set their own password)",
    "staff.lockout": "A staff account was locked after repeated failed logins",
    "staff.password_change": "Changed their password (their other sessions ended)",
    "staff.sessions_end": "Logged out of their sessions everywhere",
    "staff.session_end": "Ended one of their sessions",
    "staff.totp_disable": "Removed their authenticator app (TOTP)",
    "staff.recovery_codes": "Created new recovery codes",
    "staff.recovery_code_used": "Logged in with a recovery code",
    "staff.passkey_add": "Added a passkey",
    "staff.passkey_remove": "Removed a passkey",
    "staff.second_factor_reset": "Reset a staff account's second factors (command line)",
    "contact.objection_lift": "Lifted an objection to direct marketing on the person's instruction",
    "audit.export": "Exported the audit log",
    "api_key.create": "Created an API key",
    "api_key.revoke": "Revoked an API key",
    "campaign.unschedule": "Took a scheduled campaign back to draft",
    "campaign.auto_pause": "Campaign paused automatically; owners and admins alerted",
    "campaign.relay_wait": "Campaign began waiting for the relay",
    "campaign.relay_back": "The relay took mail again; the campaign went on",
    "campaign.relay_wait_alert": "Campaign waited for the relay too long; owners and admins alerted",
    "campaign.alert_emailed": "A campaign alert reached an owner or admin by email",
    "campaign.resend_uncertain": "Resent a campaign's uncertain deliveries",
}


def record(
    action: str,
    target_type: str = "",
    target_id: str = "",
    details: dict | None = None,
    actor: StaffUser | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Append one audit row; the caller commits. Details name records by public id, never by address."""
    actor_id = (
        getattr(actor, "id", None) if actor is not None and getattr(actor, "is_authenticated", True) else None
    )
    event = AuditEvent(
        action=action[:60],
        target_type=target_type[:40],
        target_id=str(target_id or "")[:64],
        details=details or {},
        actor_id=actor_id,
        ip=(ip or None) and ip[:45],
    )
    db.session.add(event)
    return event


@dataclass
class AuditFilter:
    """What the admin's audit page filters by."""

    action: str = ""
    actor_id: int | None = None
    target_id: str = ""
    since: datetime | None = None
    until: datetime | None = None


def _query(flt: AuditFilter):
    query = select(AuditEvent)
    if flt.action:
        query = query.where(AuditEvent.action.startswith(flt.action))
    if flt.actor_id:
        query = query.where(AuditEvent.actor_id == flt.actor_id)
    if flt.target_id:
        query = query.where(AuditEvent.target_id == flt.target_id.strip()[:64])
    if flt.since:
        query = query.where(AuditEvent.created_at >= flt.since)
    if flt.until:
        query = query.where(AuditEvent.created_at < flt.until)
    return query


def search(flt: AuditFilter, page: int = 1, per_page: int = 50) -> tuple[list[AuditEvent], int]:
    """One page of matching audit rows, newest first, and the total."""
    query = _query(flt)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = (
        db.session.execute(
            query.order_by(AuditEvent.id.desc()).limit(per_page).offset((max(1, page) - 1) * per_page)
        )
        .scalars()
        .all()
    )
    return list(rows), total


def export_csv(flt: AuditFilter) -> str:
    """Every matching audit row as CSV (oldest first), for an auditor."""
    query = _query(flt).order_by(AuditEvent.id).execution_options(yield_per=500)
    rows = (
        [
            ev.id,
            ev.created_at.isoformat(timespec="seconds"),
            ev.actor.email if ev.actor else "system",
            ev.action,
            ev.target_type,
            ev.target_id,
            "; ".join(f"{k}={v}" for k, v in (ev.details or {}).items()),
            ev.ip or "",
        ]
        for ev in db.session.execute(query).scalars()
    )
    return csv_text(
        ["id", "created_at_utc", "actor", "action", "target_type", "target_id", "details", "ip"], rows
    )


def events_for(target_type: str, target_id: str) -> list[AuditEvent]:
    """Audit rows about one record, oldest first."""
    query = select(AuditEvent).where(AuditEvent.target_type == target_type, AuditEvent.target_id == target_id)
    return list(db.session.execute(query.order_by(AuditEvent.id)).scalars())
