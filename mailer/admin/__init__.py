"""The staff admin: server-rendered pages behind login and roles (one permission map: permissions.py).

Every view module is imported here, at the top, so that the blueprint exported below carries all of its
routes; the factory registers it. Nothing else imports a view module for its side effect.
"""

from mailer.admin import (
    account,
    analytics,
    api_keys,
    audience_export,
    audit,
    auth,
    bulk,
    campaign_ab,
    campaign_gallery,
    campaign_sending,
    campaign_uncertain,
    campaign_versions,
    campaigns,
    contact_edits,
    contact_tags,
    contacts,
    dashboard,
    deliverability,
    feeds,
    imports,
    journeys,
    layouts,
    lists,
    media,
    organisation,
    outbox,
    passkeys,
    privacy,
    relays,
    segments,
    settings,
    signup_forms,
    staff_users,
    suppressions,
    system_emails,
    transactional,
    webhooks,
)
from mailer.admin.blueprint import bp
from mailer.admin.language import (
    campaign_status_name,
    consent_action_name,
    job_status_name,
    role_name,
    use_staff_language,
)
from mailer.admin.permissions import check_permission, inject_permissions
from mailer.admin.times import when, when_text
from mailer.core.sentences import shown

VIEW_MODULES = (
    account,
    analytics,
    api_keys,
    audience_export,
    audit,
    auth,
    bulk,
    campaign_ab,
    campaign_gallery,
    campaign_sending,
    campaign_uncertain,
    campaign_versions,
    campaigns,
    contact_edits,
    contact_tags,
    contacts,
    dashboard,
    deliverability,
    feeds,
    imports,
    journeys,
    layouts,
    lists,
    media,
    organisation,
    outbox,
    passkeys,
    privacy,
    relays,
    segments,
    settings,
    signup_forms,
    staff_users,
    suppressions,
    system_emails,
    transactional,
    webhooks,
)

# In this order: the page speaks the person's language (refusals included); the permission map sends visitors
# to the login page and checks every page and action; then whoever's role needs a second factor uses nothing
# else until they have set one up.
bp.before_request(use_staff_language)
bp.before_request(check_permission)
bp.before_request(auth.hold_for_second_factor)
bp.app_context_processor(inject_permissions)
bp.app_context_processor(auth.inject_enrolment_state)
bp.add_app_template_filter(when)
bp.add_app_template_filter(when_text)
bp.add_app_template_filter(shown, "sentence")
bp.add_app_template_global(role_name)
bp.add_app_template_global(consent_action_name)
bp.add_app_template_global(campaign_status_name)
bp.add_app_template_global(job_status_name)

__all__ = ["VIEW_MODULES", "bp"]
