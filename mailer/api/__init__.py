"""The JSON API for integrations (mounted at /api/v1): Bearer API keys, per-key rate limits, JSON errors only.

Every view module is imported here, at the top, so that the blueprint exported below carries all of its
routes and error handlers; the factory registers it.
"""

from mailer.api import (
    audience_exports,
    auth,
    bulk,
    campaign_ab,
    campaign_actions,
    campaign_checks,
    campaigns,
    contact_changes,
    contact_fields,
    contacts,
    errors,
    feeds,
    forms,
    gallery,
    imports,
    journey_runs,
    journeys,
    layouts,
    lists,
    media,
    openapi,
    segments,
    subscriptions,
    system_emails,
    transactional,
    tx_templates,
    webhooks,
)
from mailer.api.blueprint import bp

VIEW_MODULES = (
    audience_exports,
    auth,
    bulk,
    campaign_ab,
    campaign_actions,
    campaign_checks,
    campaigns,
    contact_changes,
    contact_fields,
    contacts,
    errors,
    feeds,
    forms,
    gallery,
    imports,
    journey_runs,
    journeys,
    layouts,
    lists,
    media,
    openapi,
    segments,
    subscriptions,
    system_emails,
    transactional,
    tx_templates,
    webhooks,
)

__all__ = ["VIEW_MODULES", "bp"]
