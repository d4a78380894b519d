"""The audit log: who did what to which record, append-only, and the words the admin shows per action."""

from datetime import datetime

from flask_babel import lazy_gettext
from sqlalchemy import JSON, ForeignKey, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.core.clock import utcnow
from mailer.core.extensions import Model

# Every action the app writes, with the words the admin shows for it in the viewer's language (the stored code
# never changes; the CSV export carries both).
ACTIONS = {
    "contact.view_sensitive": lazy_gettext("Revealed a sensitive field"),
    "contact.edit": lazy_gettext("Edited a contact"),
    "contact.export": lazy_gettext("Exported a contact's data"),
    "contact.erase": lazy_gettext("Erased a contact"),
    "contact.restrict": lazy_gettext("Restricted a contact"),
    "contact.unrestrict": lazy_gettext("Lifted a restriction"),
    "contact.object": lazy_gettext("Recorded an objection"),
    "contacts.import": lazy_gettext("Imported contacts"),
    "contacts.import_report": lazy_gettext("Downloaded an import's rejected rows"),
    "contacts.import_cancel": lazy_gettext("Cancelled an import"),
    "contacts.import_resume": lazy_gettext("Resumed a stopped import"),
    "request.create": lazy_gettext("Logged a privacy request"),
    "request.update": lazy_gettext("Updated a privacy request"),
    "request.extend": lazy_gettext("Extended a privacy request"),
    "request.notify": lazy_gettext("Notified a recipient (Art. 19)"),
    "settings.update": lazy_gettext("Changed privacy settings"),
    "settings.field": lazy_gettext("Changed a contact field"),
    "settings.recipient": lazy_gettext("Changed a data recipient"),
    "notice.publish": lazy_gettext("Published the privacy notice"),
    "retention.run": lazy_gettext("Applied retention"),
    "keys.reencrypt": lazy_gettext("Re-encrypted data keys"),
    "staff.create": lazy_gettext("Created a staff account"),
    "staff.role": lazy_gettext("Changed a staff role"),
    "staff.deactivate": lazy_gettext("Deactivated a staff account"),
    "staff.activate": lazy_gettext("Reactivated a staff account"),
    "staff.invite": lazy_gettext("Invited someone to the admin"),
    "staff.invite_resend": lazy_gettext("Sent a staff invitation again"),
    "staff.invite_revoke": lazy_gettext("Revoked a staff invitation"),
    "staff.invite_accept": lazy_gettext("Accepted a staff invitation (set their own password)"),
    "staff.lockout": lazy_gettext("A staff account was locked after repeated failed logins"),
    "staff.password_change": lazy_gettext("Changed their password (their other sessions ended)"),
    "staff.sessions_end": lazy_gettext("Logged out of their sessions everywhere"),
    "staff.session_end": lazy_gettext("Ended one of their sessions"),
    "staff.totp_disable": lazy_gettext("Removed their authenticator app (TOTP)"),
    "staff.recovery_codes": lazy_gettext("Created new recovery codes"),
    "staff.recovery_code_used": lazy_gettext("Logged in with a recovery code"),
    "staff.passkey_add": lazy_gettext("Added a passkey"),
    "staff.passkey_remove": lazy_gettext("Removed a passkey"),
    "staff.second_factor_reset": lazy_gettext("Reset a staff account's second factors (command line)"),
    "contact.objection_lift": lazy_gettext(
        "Lifted an objection to direct marketing on the person's instruction"
    ),
    "audit.export": lazy_gettext("Exported the audit log"),
    "api_key.create": lazy_gettext("Created an API key"),
    "api_key.revoke": lazy_gettext("Revoked an API key"),
    "relay.create": lazy_gettext("Added an SMTP relay"),
    "relay.update": lazy_gettext("Changed an SMTP relay"),
    "relay.delete": lazy_gettext("Removed an SMTP relay"),
    "campaign.unschedule": lazy_gettext("Took a scheduled campaign back to draft"),
    "campaign.auto_pause": lazy_gettext("Campaign paused automatically; owners and admins alerted"),
    "campaign.relay_wait": lazy_gettext("Campaign began waiting for the relay"),
    "campaign.relay_back": lazy_gettext("The relay took mail again; the campaign went on"),
    "campaign.relay_wait_alert": lazy_gettext(
        "Campaign waited for the relay too long; owners and admins alerted"
    ),
    "campaign.alert_emailed": lazy_gettext("A campaign alert reached an owner or admin by email"),
    "campaign.resend_uncertain": lazy_gettext("Resent a campaign's uncertain deliveries"),
    "contact.tag": lazy_gettext("Tagged a contact"),
    "contact.untag": lazy_gettext("Removed a tag from a contact"),
    "segment.save": lazy_gettext("Saved a segment"),
    "segment.delete": lazy_gettext("Deleted a segment"),
    "tx_template.created": lazy_gettext("Created a transactional template"),
    "tx_template.changed": lazy_gettext("Changed a transactional template"),
    "tx_template.archived": lazy_gettext("Archived a transactional template"),
    "tx_template.restored": lazy_gettext("Restored a transactional template"),
    "tx_template.test": lazy_gettext("Sent a transactional template's test"),
    "list.archived": lazy_gettext("Archived a list"),
    "list.unarchived": lazy_gettext("Un-archived a list"),
    "list.deleted": lazy_gettext("Deleted a list (its subscriptions ended)"),
    "form.created": lazy_gettext("Created a sign-up form"),
    "form.edited": lazy_gettext("Changed a sign-up form"),
    "form.wording_saved": lazy_gettext("Saved a sign-up form's wording in another language"),
    "form.archived": lazy_gettext("Archived a sign-up form"),
    "form.unarchived": lazy_gettext("Un-archived a sign-up form"),
    "form.deleted": lazy_gettext("Deleted a sign-up form"),
    "suppression.remove": lazy_gettext("Removed an address from the suppression list"),
    "dkim.create": lazy_gettext("Created a DKIM key to publish beside the signing one"),
    "dkim.switch": lazy_gettext("Switched a domain's DKIM signing to a published selector"),
}


def action_name(action: str) -> str:
    """An action's words in the current language; an unknown (older or newer) code as it is stored."""
    label = ACTIONS.get(action)
    return str(label) if label is not None else action


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
