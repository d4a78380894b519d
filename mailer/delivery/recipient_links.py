"""Per-recipient URLs placed in marketing mail: unsubscribe (RFC 8058), preference centre, tracking.

The one place these tokens are made; the public endpoints that read them live in mailer/public/.
Tokens are signed per purpose and carry opaque public ids only (REQUIREMENTS I1-I4); they use the compact
format of mailer.core.security (one HMAC each; a click link's link half is made once per campaign).
"""

from flask import current_app

from mailer.core.security import compact_keys, make_token


def _base() -> str:
    return current_app.config["MAILER_BASE_URL"]


def unsubscribe_token(
    contact_public_id: str, list_public_id: str | None, campaign_public_id: str | None
) -> str:
    """Identifies recipient, the list the message was sent for, and the campaign."""
    return make_token("unsubscribe", [contact_public_id, list_public_id, campaign_public_id])


def unsubscribe_url(
    contact_public_id: str, list_public_id: str | None, campaign_public_id: str | None
) -> str:
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


class CampaignLinks:
    """The same URLs for every recipient of one campaign, made with one HMAC per URL kind and recipient."""

    def __init__(self, campaign_public_id: str, link_ids):
        self.campaign = campaign_public_id
        self.base = _base()
        self.unsubscribe_keys = compact_keys("unsubscribe")
        self.preferences_keys = compact_keys("preferences")
        self.open_keys = compact_keys("open")
        self.click_keys = compact_keys("click")
        # The link half of each click token names no recipient: made once per campaign.
        self.link_parts = {
            link_id: self.click_keys.link_part(campaign_public_id, link_id) for link_id in link_ids
        }

    def unsubscribe_url(self, contact_public_id: str, list_public_id: str | None) -> str:
        token = self.unsubscribe_keys.recipient((contact_public_id, list_public_id, self.campaign))
        return f"{self.base}/u/{token}"

    def preferences_url(self, contact_public_id: str) -> str:
        return f"{self.base}/p/{self.preferences_keys.recipient((contact_public_id,))}"

    def open_pixel_url(self, contact_public_id: str) -> str:
        return f"{self.base}/t/o/{self.open_keys.recipient((self.campaign, contact_public_id))}"

    def click_prefix(self, contact_public_id: str) -> str:
        """What this recipient's click URLs start with; each link's URL is this + its link part."""
        return f"{self.base}/t/c/{self.click_keys.recipient((self.campaign, contact_public_id))}."

    def click_urls(self, contact_public_id: str) -> dict[int, str]:
        """link id -> this recipient's tracked URL for every link of the campaign."""
        prefix = self.click_prefix(contact_public_id)
        return {link_id: prefix + part for link_id, part in self.link_parts.items()}
