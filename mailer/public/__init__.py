"""Pages for recipients: confirmation (double opt-in), preferences, unsubscribe, tracking, privacy rights.

Every view module is imported here, at the top, so that the blueprint exported below carries all of its
routes; the factory registers it.
"""

from mailer.public import (
    media,
    metrics,
    preferences,
    privacy,
    provider_hooks,
    reconfirm,
    tracking,
    unsubscribe,
    views,
)
from mailer.public.blueprint import bp

VIEW_MODULES = (media, metrics, preferences, privacy, provider_hooks, reconfirm, tracking, unsubscribe, views)

__all__ = ["VIEW_MODULES", "bp"]
