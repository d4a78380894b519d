"""The JSON API for integrations (mounted at /api/v1): Bearer API keys, per-key rate limits, JSON errors only.

Every view module is imported here, at the top, so that the blueprint exported below carries all of its
routes and error handlers; the factory registers it.
"""

from mailer.api import (
    auth,
    campaign_actions,
    campaigns,
    contact_changes,
    contact_fields,
    contacts,
    errors,
    journeys,
    lists,
    media,
    openapi,
    segments,
    subscriptions,
    transactional,
    webhooks,
)
from mailer.api.blueprint import bp

VIEW_MODULES = (
    auth,
    campaign_actions,
    campaigns,
    contact_changes,
    contact_fields,
    contacts,
    errors,
    journeys,
    lists,
    media,
    openapi,
    segments,
    subscriptions,
    transactional,
    webhooks,
)

__all__ = ["VIEW_MODULES", "bp"]
