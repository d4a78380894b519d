"""The audit log: who did what to which record, append-only, and the words the admin shows per action."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.core.clock import utcnow
from mailer.core.extensions import Model

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
    "contacts.import_report": "Downloaded an import's rejected rows",
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
    "relay.create": "Added an SMTP relay",
    "relay.update": "Changed an SMTP relay",
    "relay.delete": "Removed an SMTP relay",
    "campaign.unschedule": "Took a scheduled campaign back to draft",
    "campaign.auto_pause": "Campaign paused automatically; owners and admins alerted",
    "campaign.relay_wait": "Campaign began waiting for the relay",
    "campaign.relay_back": "The relay took mail again; the campaign went on",
    "campaign.relay_wait_alert": "Campaign waited for the relay too long; owners and admins alerted",
    "campaign.alert_emailed": "A campaign alert reached an owner or admin by email",
    "campaign.resend_uncertain": "Resent a campaign's uncertain deliveries",
    "contact.tag": "Tagged a contact",
    "contact.untag": "Removed a tag from a contact",
    "segment.save": "Saved a segment",
    "segment.delete": "Deleted a segment",
    "tx_template.created": "Created a transactional template",
    "tx_template.changed": "Changed a transactional template",
    "tx_template.archived": "Archived a transactional template",
    "tx_template.restored": "Restored a transactional template",
    "tx_template.test": "Sent a transactional template's test",
    "list.archived": "Archived a list",
    "list.unarchived": "Un-archived a list",
    "list.deleted": "Deleted a list (its subscriptions ended)",
    "form.archived": "Archived a sign-up form",
    "form.unarchived": "Un-archived a sign-up form",
    "form.deleted": "Deleted a sign-up form",
    "suppression.remove": "Removed an address from the suppression list",
    "dkim.create": "Created a DKIM key to publish beside the signing one",
    "dkim.switch": "Switched a domain's DKIM signing to a published selector",
}


class AuditEvent(Model):
    """One staff action on personal data or settings."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    action: Mapped[str] = mapped_column(String(60), index=True)
    target_type: Mapped[str] = mapped_column(String(40), default="")
    target_id: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(45))

    actor = relationship("StaffUser")


@event.listens_for(AuditEvent, "before_update")
def _audit_is_append_only(mapper, connection, target):
    """Audit rows are evidence of what staff did: never edited."""
    raise ValueError("Audit events are append-only")


@event.listens_for(AuditEvent, "before_delete")
def _audit_is_not_deleted(mapper, connection, target):
    """Audit rows are never deleted."""
    raise ValueError("Audit events are append-only")
