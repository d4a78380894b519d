"""Per-recipient URLs placed in marketing mail: unsubscribe (RFC 8058), preference centre, tracking.

The one place these tokens are made; the public endpoints that read them live in mailer/public/.
Tokens are signed per purpose and carry opaque public ids only (REQUIREMENTS I1-I4).
"""
from flask import current_app

from mailer.security import make_token


def _base() -> str:
    return current_app.config["MAILER_BASE_URL"]


def unsubscribe_token(contact_public_id: str, list_public_id: str | None, campaign_public_id: str | None) -> str:
    """Identifies recipient, the list the message was sent for, and the campaign."""
    return make_token("unsubscribe", [contact_public_id, list_public_id, campaign_public_id])


def unsubscribe_url(contact_public_id: str, list_public_id: str | None, campaign_public_id: str | None) -> str:
    """The one-click URL for List-Unsubscribe and the footer's unsubscribe link (GET shows a page; POST acts)."""
    return f"{_base()}/u/{unsubscribe_token(contact_public_id, list_public_id, campaign_public_id)}"


def preferences_url(contact_public_id: str) -> str:
    """The contact's preference centre (long-lived)."""
    return f"{_base()}/p/{make_token('preferences', contact_public_id)}"


def open_pixel_url(contact_public_id: str, campaign_public_id: str) -> str:
    """1×1 pixel URL; only for contacts who consented to open tracking."""
    return f"{_base()}/t/o/{make_token('open', [campaign_public_id, contact_public_id])}"


def click_url(contact_public_id: str, campaign_public_id: str, link_id: int) -> str:
    """Redirect URL for one campaign link; only for contacts who consented to click tracking."""
    return f"{_base()}/t/c/{make_token('click', [campaign_public_id, contact_public_id, link_id])}"
