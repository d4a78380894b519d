"""The one permission map of the admin, default deny:
endpoint → roles allowed per method, checked in one hook.

Every admin endpoint is listed here by its exact name with each method it answers. An endpoint nobody listed
answers 403 to everyone (and is logged), so a new page stays closed until someone decides who may use it;
tests/admin/test_permissions.py fails for any route without an entry and any entry without a route.
"""

import logging

from flask import abort, has_request_context, request
from flask_login import current_user
from sqlalchemy import select

from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.core.extensions import db, login_manager
from mailer.privacy.restriction import RESTRICTION_ROLES
from mailer.staff.models.accounts import PRIVACY_ROLES, ROLES

log = logging.getLogger(__name__)

ANONYMOUS = "anonymous"  # the pseudo-role of a visitor who has not logged in
ALL = ROLES
EDITORS = ("owner", "admin", "marketer")
MANAGERS = ("owner", "admin")
PRIVACY_READERS = ("owner", "admin", "privacy")
PRIVACY_HANDLERS = PRIVACY_ROLES  # handle requests and restrictions, see personal exports
PUBLIC = (*ROLES, ANONYMOUS)

READ = "GET"
WRITE = "POST"

RULES: dict[str, dict[str, tuple[str, ...]]] = {
    # Before login: the signed single-use links (first run, invitation) are the proof.
    "admin.login": {READ: PUBLIC, WRITE: PUBLIC},
    "admin.setup": {READ: PUBLIC, WRITE: PUBLIC},
    "admin.invite_accept": {READ: PUBLIC, WRITE: PUBLIC},
    # The second login step: only for someone who has just given the right password (mailer/admin/auth.py).
    "admin.login_verify": {READ: PUBLIC, WRITE: PUBLIC},
    "admin.login_passkey_options": {WRITE: PUBLIC},
    "admin.login_passkey": {WRITE: PUBLIC},
    "admin.logout": {WRITE: ALL},
    # One's own account: password, sessions, second factors (each view acts on current_user only).
    "admin.account": {READ: ALL},
    "admin.account_password": {WRITE: ALL},
    "admin.account_language": {WRITE: ALL},
    "admin.account_session_end": {WRITE: ALL},
    "admin.account_sessions_end": {WRITE: ALL},
    "admin.account_totp": {READ: ALL, WRITE: ALL},
    "admin.account_totp_remove": {WRITE: ALL},
    "admin.account_recovery_codes": {WRITE: ALL},
    "admin.account_passkey_options": {WRITE: ALL},
    "admin.account_passkey_add": {WRITE: ALL},
    "admin.account_passkey_remove": {WRITE: ALL},
    "admin.dashboard": {READ: ALL},
    # Lists, contacts, forms, imports: everyone reads, editors change.
    "admin.lists": {READ: ALL},
    "admin.list_show": {READ: ALL},
    "admin.list_new": {READ: EDITORS, WRITE: EDITORS},
    "admin.list_edit": {READ: EDITORS, WRITE: EDITORS},
    "admin.list_archive": {READ: EDITORS, WRITE: EDITORS},
    "admin.list_unarchive": {READ: EDITORS, WRITE: EDITORS},
    "admin.list_reconfirmation_email": {READ: EDITORS, WRITE: EDITORS},
    "admin.list_reconfirmation_email_preview": {WRITE: EDITORS},
    # Deleting a list ends its subscriptions (ledger events): owners and admins only, like exports.
    "admin.list_delete": {READ: MANAGERS, WRITE: MANAGERS},
    "admin.contacts": {READ: ALL},
    "admin.bulk_review": {READ: EDITORS, WRITE: EDITORS},
    # Erasing contacts in bulk: those who may erase one (owners and privacy officers), with a reason.
    "admin.bulk_erase": {READ: PRIVACY_HANDLERS, WRITE: PRIVACY_HANDLERS},
    "admin.bulk_jobs": {READ: ALL},
    "admin.bulk_job_show": {READ: ALL},
    "admin.bulk_job_progress": {READ: ALL},
    "admin.contact_show": {READ: ALL},
    "admin.contact_evidence": {READ: ALL},
    "admin.contact_tag_add": {WRITE: EDITORS},
    "admin.contact_tag_remove": {WRITE: EDITORS},
    "admin.contact_new": {READ: EDITORS, WRITE: EDITORS},
    # A file of a whole audience leaves the system: owners and admins only, with a reason (audited).
    "admin.list_export": {READ: MANAGERS, WRITE: MANAGERS},
    "admin.segment_export": {READ: MANAGERS, WRITE: MANAGERS},
    "admin.contact_edit": {READ: EDITORS, WRITE: EDITORS},
    # Segments: everyone reads (and counts), editors build and delete.
    "admin.segments": {READ: ALL},
    "admin.segment_new": {READ: EDITORS, WRITE: EDITORS},
    "admin.segment_edit": {READ: ALL, WRITE: EDITORS},
    "admin.segment_count": {WRITE: ALL},
    "admin.segment_delete": {WRITE: EDITORS},
    "admin.forms": {READ: ALL},
    "admin.form_show": {READ: ALL},
    "admin.form_new": {READ: EDITORS, WRITE: EDITORS},
    "admin.form_edit": {READ: EDITORS, WRITE: EDITORS},
    "admin.form_wording": {READ: EDITORS, WRITE: EDITORS},
    "admin.form_confirmation_email": {READ: EDITORS, WRITE: EDITORS},
    "admin.form_confirmation_email_preview": {WRITE: EDITORS},
    "admin.form_archive": {READ: EDITORS, WRITE: EDITORS},
    "admin.form_unarchive": {READ: EDITORS, WRITE: EDITORS},
    "admin.form_delete": {READ: MANAGERS, WRITE: MANAGERS},
    "admin.imports_index": {READ: ALL},
    "admin.import_show": {READ: ALL},
    "admin.import_progress": {READ: ALL},
    "admin.import_new": {READ: EDITORS, WRITE: EDITORS},
    "admin.import_mapping": {READ: EDITORS, WRITE: EDITORS},
    "admin.import_cancel": {WRITE: EDITORS},
    "admin.import_resume": {WRITE: EDITORS},
    "admin.import_report": {READ: EDITORS},
    # Journeys (automations): everyone reads the builder and its numbers, editors build, start and pause.
    "admin.journeys_index": {READ: ALL},
    "admin.journey_show": {READ: ALL},
    "admin.journey_new": {READ: EDITORS, WRITE: EDITORS},
    "admin.journey_edit": {READ: EDITORS, WRITE: EDITORS},
    "admin.journey_status": {WRITE: EDITORS},
    "admin.journey_step_new": {READ: EDITORS, WRITE: EDITORS},
    "admin.journey_step_edit": {READ: EDITORS, WRITE: EDITORS},
    "admin.journey_step_move": {WRITE: EDITORS},
    "admin.journey_step_delete": {WRITE: EDITORS},
    "admin.journey_test": {WRITE: EDITORS},
    # Feed campaigns (RSS-to-email): everyone reads them and their runs; editors create, change, run them.
    "admin.feeds_index": {READ: ALL},
    "admin.feed_show": {READ: ALL},
    "admin.feed_new": {READ: EDITORS, WRITE: EDITORS},
    "admin.feed_edit": {READ: EDITORS, WRITE: EDITORS},
    "admin.feed_status": {WRITE: EDITORS},
    # Campaigns and layouts.
    "admin.campaigns": {READ: ALL},
    "admin.campaign_show": {READ: ALL},
    "admin.campaign_progress": {READ: ALL},
    "admin.campaign_preview": {READ: ALL},
    "admin.campaign_preview_document": {READ: ALL},
    "admin.campaign_preview_json": {WRITE: EDITORS},
    "admin.campaign_body_html": {WRITE: EDITORS},
    "admin.campaign_new": {READ: EDITORS, WRITE: EDITORS},
    "admin.campaign_edit": {READ: EDITORS, WRITE: EDITORS},
    "admin.campaign_copy": {WRITE: EDITORS},
    "admin.campaign_gallery": {READ: EDITORS},
    "admin.campaign_starter_preview": {READ: EDITORS},
    "admin.campaign_template_preview": {READ: EDITORS},
    "admin.campaign_save_template": {WRITE: EDITORS},
    "admin.campaign_template_delete": {WRITE: EDITORS},
    "admin.campaign_autosave": {WRITE: EDITORS},
    "admin.campaign_autosave_new": {WRITE: EDITORS},
    "admin.campaign_undo": {WRITE: EDITORS},
    "admin.campaign_version_restore": {WRITE: EDITORS},
    "admin.campaign_delete": {WRITE: EDITORS},
    "admin.campaign_compliance": {WRITE: EDITORS},
    "admin.campaign_test": {WRITE: EDITORS},
    "admin.campaign_send": {READ: EDITORS, WRITE: EDITORS},
    "admin.campaign_schedule": {READ: EDITORS, WRITE: EDITORS},
    "admin.campaign_unschedule": {WRITE: EDITORS},
    "admin.campaign_pause": {WRITE: EDITORS},
    "admin.campaign_resume": {WRITE: EDITORS},
    "admin.campaign_cancel": {WRITE: EDITORS},
    "admin.campaign_ab_test": {READ: EDITORS, WRITE: EDITORS},
    "admin.campaign_ab_variant_add": {WRITE: EDITORS},
    "admin.campaign_ab_variant_save": {WRITE: EDITORS},
    "admin.campaign_ab_variant_delete": {WRITE: EDITORS},
    "admin.campaign_ab_winner": {WRITE: EDITORS},
    "admin.campaign_ab_variant_content": {READ: EDITORS, WRITE: EDITORS},
    "admin.campaign_ab_variant_preview": {READ: ALL},
    "admin.campaign_ab_variant_preview_document": {READ: ALL},
    # Uncertain deliveries: anyone may look (contacts appear only as opaque references); resending may deliver
    # twice, so only owners and admins decide it.
    "admin.campaign_uncertain": {READ: ALL},
    "admin.campaign_uncertain_resend": {READ: MANAGERS, WRITE: MANAGERS},
    # Transactional templates: editors change and test them; the sent log names recipients, like the outbox.
    "admin.tx_templates_index": {READ: ALL},
    "admin.tx_template_show": {READ: ALL},
    "admin.tx_template_preview_document": {READ: ALL},
    "admin.tx_template_new": {READ: EDITORS, WRITE: EDITORS},
    "admin.tx_template_edit": {READ: EDITORS, WRITE: EDITORS},
    "admin.tx_template_test": {WRITE: EDITORS},
    "admin.tx_template_archive": {WRITE: EDITORS},
    "admin.tx_log": {READ: EDITORS},
    "admin.layouts": {READ: ALL},
    "admin.layout_show": {READ: ALL},
    "admin.layout_preview_document": {READ: ALL},
    "admin.layout_preview_json": {WRITE: EDITORS},
    "admin.layout_new": {READ: EDITORS, WRITE: EDITORS},
    "admin.layout_edit": {READ: EDITORS, WRITE: EDITORS},
    "admin.layout_copy": {WRITE: EDITORS},
    "admin.layout_delete": {WRITE: EDITORS},
    "admin.analytics_overview": {READ: ALL},
    "admin.analytics_campaign": {READ: ALL},
    "admin.analytics_list": {READ: ALL},
    "admin.deliverability_index": {READ: ALL},
    "admin.deliverability_check": {WRITE: EDITORS},
    # The suppression list: owners and admins see it and take an address off it, with a reason (audited).
    "admin.suppressions": {READ: MANAGERS},
    "admin.suppression_remove": {WRITE: MANAGERS},
    # DKIM rotation: a new selector, its DNS check and the switch change how all mail is signed.
    "admin.dkim_key_new": {WRITE: MANAGERS},
    "admin.dkim_key_check": {WRITE: MANAGERS},
    "admin.dkim_key_switch": {WRITE: MANAGERS},
    # The local outbox holds other people's confirmation, invitation and privacy links: managers only, and
    # even they see only the links they may use (mailer/admin/outbox_links.py).
    "admin.outbox": {READ: MANAGERS},
    "admin.outbox_show": {READ: MANAGERS},
    "admin.outbox_html": {READ: MANAGERS},
    # Privacy requests: visible to admins, handled only by privacy officers (and the owner).
    "admin.privacy_requests": {READ: PRIVACY_READERS},
    "admin.privacy_request_show": {READ: PRIVACY_READERS},
    "admin.privacy_request_new": {READ: PRIVACY_READERS, WRITE: PRIVACY_HANDLERS},
    "admin.privacy_request_export": {READ: PRIVACY_HANDLERS},
    "admin.privacy_request_extend": {WRITE: PRIVACY_HANDLERS},
    "admin.privacy_request_fulfil": {WRITE: PRIVACY_HANDLERS},
    "admin.privacy_request_notify": {WRITE: PRIVACY_HANDLERS},
    "admin.privacy_request_refuse": {WRITE: PRIVACY_HANDLERS},
    "admin.privacy_request_send_export": {WRITE: PRIVACY_HANDLERS},
    "admin.privacy_request_send_verification": {WRITE: PRIVACY_HANDLERS},
    "admin.privacy_contact_reveal": {WRITE: PRIVACY_READERS},
    "admin.privacy_contact_rectify": {READ: PRIVACY_HANDLERS, WRITE: PRIVACY_HANDLERS},
    "admin.privacy_contact_erase": {WRITE: PRIVACY_HANDLERS},
    "admin.privacy_contact_restrict": {WRITE: PRIVACY_HANDLERS},
    "admin.privacy_contact_unrestrict": {WRITE: PRIVACY_HANDLERS},
    "admin.privacy_contact_lift_objection": {WRITE: PRIVACY_HANDLERS},
    "admin.retention_report": {READ: PRIVACY_READERS},
    "admin.retention_run": {WRITE: PRIVACY_HANDLERS},
    "admin.audit_log": {READ: PRIVACY_READERS},
    "admin.audit_export": {READ: PRIVACY_READERS},
    "admin.media_library": {READ: EDITORS, WRITE: EDITORS},
    "admin.media_alt": {WRITE: EDITORS},
    "admin.media_assets": {READ: EDITORS},
    "admin.media_upload_json": {WRITE: EDITORS},
    "admin.media_delete": {WRITE: EDITORS},
    "admin.organisation_settings_page": {READ: MANAGERS, WRITE: MANAGERS},
    "admin.organisation_brand": {WRITE: MANAGERS},
    "admin.settings_privacy": {READ: PRIVACY_READERS, WRITE: PRIVACY_READERS},
    "admin.settings_notice": {READ: PRIVACY_READERS},
    "admin.settings_fields": {READ: PRIVACY_READERS, WRITE: PRIVACY_READERS},
    "admin.settings_field_toggle": {WRITE: PRIVACY_READERS},
    "admin.settings_recipients": {READ: PRIVACY_READERS},
    "admin.settings_recipient_edit": {READ: PRIVACY_READERS, WRITE: PRIVACY_READERS},
    "admin.settings_ropa": {READ: PRIVACY_READERS},
    "admin.settings_ropa_csv": {READ: PRIVACY_READERS},
    "admin.settings_ropa_json": {READ: PRIVACY_READERS},
    # Accounts and API keys (a key opens every contact to an integration).
    "admin.staff": {READ: MANAGERS, WRITE: MANAGERS},
    "admin.staff_role": {WRITE: MANAGERS},
    "admin.staff_toggle_active": {WRITE: MANAGERS},
    "admin.staff_invite_resend": {WRITE: MANAGERS},
    "admin.staff_invite_revoke": {WRITE: MANAGERS},
    "admin.api_keys": {READ: MANAGERS},
    # Named SMTP relays hold credentials: owners and admins.
    "admin.relays": {READ: MANAGERS},
    "admin.relay_new": {READ: MANAGERS, WRITE: MANAGERS},
    "admin.relay_edit": {READ: MANAGERS, WRITE: MANAGERS},
    "admin.relay_delete": {WRITE: MANAGERS},
    # Outgoing webhooks show signing secrets and decide where personal data goes: owners and admins.
    "admin.webhooks": {READ: MANAGERS},
    "admin.webhook_new": {READ: MANAGERS, WRITE: MANAGERS},
    "admin.webhook_edit": {READ: MANAGERS, WRITE: MANAGERS},
    "admin.webhook_show": {READ: MANAGERS},
    "admin.webhook_delivery": {READ: MANAGERS},
    "admin.webhook_rotate": {WRITE: MANAGERS},
    "admin.webhook_test": {WRITE: MANAGERS},
    "admin.webhook_toggle": {WRITE: MANAGERS},
    "admin.webhook_delete": {WRITE: MANAGERS},
    "admin.webhook_resend": {WRITE: MANAGERS},
    "admin.api_key_new": {READ: MANAGERS, WRITE: MANAGERS},
    "admin.api_key_revoke": {WRITE: MANAGERS},
}
# HEAD and OPTIONS only read; any other method must be listed itself.
METHOD_ALIASES = {"HEAD": READ, "OPTIONS": READ}


def allowed(role: str | None, endpoint: str, method: str = READ) -> bool:
    """Whether a role (or ANONYMOUS) may use an endpoint with a method; unlisted endpoints: nobody."""
    method = METHOD_ALIASES.get(method.upper(), method.upper())
    return role in RULES.get(endpoint, {}).get(method, ())


def _restricted_contact_target() -> bool:
    """A change aimed at a restricted contact (Art. 18): only privacy officers may make it."""
    public_id = (request.view_args or {}).get("public_id")
    if not public_id or not (request.endpoint or "").startswith("admin.contact"):
        return False
    status = db.session.execute(
        select(Contact.status).where(Contact.public_id == public_id)
    ).scalar_one_or_none()
    return status == ContactStatus.RESTRICTED


def check_permission():
    """before_request: log in first where needed, refuse (403) what the map does not give the current role."""
    endpoint = request.endpoint or ""
    if endpoint not in RULES:
        log.warning(
            "Refused %s %s: the endpoint is not in the admin permission map", request.method, endpoint
        )
        abort(403)
    role = current_user.role if current_user.is_authenticated else ANONYMOUS
    if allowed(role, endpoint, request.method):
        pass
    elif role == ANONYMOUS:
        return login_manager.unauthorized()
    else:
        abort(403)
    changes = request.method not in ("GET", "HEAD", "OPTIONS")
    # The restriction rule's own roles (privacy.restriction), so the door and the operations agree.
    if changes and role not in RESTRICTION_ROLES and role != ANONYMOUS and _restricted_contact_target():
        abort(403, "This contact is restricted (Art. 18): only a privacy officer can change it.")
    return None


def inject_permissions():
    """Templates ask `allowed_to('admin.endpoint', 'POST')` to hide what the user may not do; `can_edit` is
    the editors' group (lists, forms, campaigns, layouts)."""
    if not has_request_context():
        return {}
    role = current_user.role if current_user.is_authenticated else ANONYMOUS

    def allowed_to(endpoint: str, method: str = READ) -> bool:
        return role != ANONYMOUS and allowed(role, endpoint, method)

    return {"allowed_to": allowed_to, "can_edit": role in EDITORS}
