"""Absolute public URLs built outside a request (in workers), from MAILER_BASE_URL.

Every URL placed in mail for one recipient comes from one table, RECIPIENT_URLS: the public endpoint that
answers it, the purpose its signed token is made for, and the endpoint's path up to the token (so the hot path
of a campaign builds URLs by concatenation; a test keeps each path equal to its route). Tokens are signed per
purpose and carry opaque public ids only (REQUIREMENTS I1-I4); the recipient-link purposes use the compact
format of mailer.core.security (one HMAC each; a click link's link half is made once per campaign).
"""

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, has_request_context, url_for

from mailer.core.security import TokenInvalid, address_keys, compact_keys, make_token

# A base URL on these hosts only works on this machine: a developer's, where plain http is allowed.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class RecipientLink(enum.StrEnum):
    """The kinds of per-recipient URL that mail carries."""

    UNSUBSCRIBE = "unsubscribe"  # the footer's link: GET shows a page
    ONE_CLICK = "one-click"  # RFC 8058: the same URL, POSTed by the mailbox provider
    PREFERENCES = "preferences"
    CONFIRM = "confirm"
    OPEN = "open"
    CLICK = "click"
    PRIVACY_VERIFY = "privacy-verify"
    ADDRESS_RECONFIRM = "address-reconfirm"
    DATA_DOWNLOAD = "data-download"
    KEEP_SUBSCRIBED = "keep-subscribed"
    LIST_RECONFIRM = "list-reconfirm"  # a re-permission request: keep the lists it names


@dataclass(frozen=True)
class RecipientRoute:
    """Where a recipient URL leads and how its token is signed."""

    endpoint: str
    purpose: str
    path: str  # the endpoint's rule up to its <token>


RECIPIENT_URLS: dict[RecipientLink, RecipientRoute] = {
    RecipientLink.UNSUBSCRIBE: RecipientRoute("public.unsubscribe_page", "unsubscribe", "/u/"),
    RecipientLink.ONE_CLICK: RecipientRoute("public.unsubscribe_post", "unsubscribe", "/u/"),
    RecipientLink.PREFERENCES: RecipientRoute("public.preferences", "preferences", "/p/"),
    RecipientLink.CONFIRM: RecipientRoute("public.confirm", "confirm", "/confirm/"),
    RecipientLink.OPEN: RecipientRoute("public.track_open", "open", "/t/o/"),
    RecipientLink.CLICK: RecipientRoute("public.track_click", "click", "/t/c/"),
    RecipientLink.PRIVACY_VERIFY: RecipientRoute(
        "public.privacy_verify", "privacy-verify", "/privacy/verify/"
    ),
    RecipientLink.ADDRESS_RECONFIRM: RecipientRoute(
        "public.privacy_reconfirm", "reconfirm-email", "/privacy/address/"
    ),
    RecipientLink.DATA_DOWNLOAD: RecipientRoute("public.privacy_download", "export", "/privacy/download/"),
    RecipientLink.KEEP_SUBSCRIBED: RecipientRoute("public.privacy_keep", "repermission", "/privacy/keep/"),
    RecipientLink.LIST_RECONFIRM: RecipientRoute("public.list_reconfirm", "list-reconfirm", "/stay/"),
}


def base_url() -> str:
    """MAILER_BASE_URL: what every URL in mail starts with."""
    return str(current_app.config["MAILER_BASE_URL"])


def external_url(endpoint: str, **values: Any) -> str:
    """The public URL of an endpoint, as a recipient's mail client must see it."""
    base = urlsplit(current_app.config["MAILER_BASE_URL"])
    if has_request_context() and not current_app.config["MAILER_BASE_URL"]:
        return url_for(endpoint, _external=True, **values)
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)


def insecure_links_problem(base: str | None = None) -> str | None:
    """Why mail may not carry links to this base URL, or None (REQUIREMENTS A1: the one-click URL is https).

    Plain http is allowed only on loopback hosts (a developer's machine, where the links work nowhere else).
    """
    parts = urlsplit(base_url() if base is None else base)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        return None
    return (
        "MAILER_BASE_URL must start with https:// : mailbox providers accept one-click unsubscribe "
        "(List-Unsubscribe) only over HTTPS (RFC 8058)."
    )


def recipient_url(link: RecipientLink, payload: Any) -> str:
    """The absolute URL of one kind of recipient link, its token signed for that kind's purpose."""
    route = RECIPIENT_URLS[link]
    return f"{base_url()}{route.path}{make_token(route.purpose, payload)}"


def unsubscribe_url(
    contact_public_id: str, list_public_id: str | None, campaign_public_id: str | None
) -> str:
    """The List-Unsubscribe one-click URL, also the footer's unsubscribe link (GET: a page; POST acts)."""
    return recipient_url(RecipientLink.ONE_CLICK, [contact_public_id, list_public_id, campaign_public_id])


def preferences_url(contact_public_id: str) -> str:
    """The contact's preference centre (long-lived)."""
    return recipient_url(RecipientLink.PREFERENCES, contact_public_id)


def open_pixel_url(contact_public_id: str, campaign_public_id: str) -> str:
    """1×1 pixel URL; only for contacts who consented to open tracking."""
    return recipient_url(RecipientLink.OPEN, [campaign_public_id, contact_public_id])


def click_url(contact_public_id: str, campaign_public_id: str, link_id: int) -> str:
    """Redirect URL for one campaign link; only for contacts who consented to click tracking."""
    return recipient_url(RecipientLink.CLICK, [campaign_public_id, contact_public_id, link_id])


# RFC 2369 mailto: unsubscribe, beside the HTTPS one-click URL: an address on the bounce domain, so the bounce
# listener and the bounce mailbox take it where they take bounces: <bounce local part>+unsub-<token>@<domain>.
MAILTO_UNSUBSCRIBE_PURPOSE = "unsubscribe-mailto"
MAILTO_UNSUBSCRIBE_TAG = "unsub"
_MAILTO_UNSUBSCRIBE = re.compile(r"^[^+@\s]+\+unsub-(?P<token>[0-9a-f-]{1,60})@[^@\s]+$", re.IGNORECASE)


class UnsubscribeAddresses:
    """The mailto: unsubscribe URIs of one bounce address, one per delivery (one HMAC each)."""

    def __init__(self, bounce_base: tuple[str, str]):
        local, domain = bounce_base
        self.prefix = f"mailto:{local}+{MAILTO_UNSUBSCRIBE_TAG}-"
        self.suffix = f"@{domain}?subject=unsubscribe"
        self.keys = address_keys(MAILTO_UNSUBSCRIBE_PURPOSE)

    def mailto(self, delivery_id: int) -> str:
        """mailto:<address>?subject=unsubscribe for the List-Unsubscribe header of this delivery's message."""
        return self.prefix + self.keys.mint(delivery_id) + self.suffix


def is_unsubscribe_address(address: str) -> bool:
    """Whether an address has the shape of a mailto: unsubscribe address (genuine or not)."""
    return _MAILTO_UNSUBSCRIBE.match((address or "").strip().strip("<>")) is not None


def delivery_of_unsubscribe_address(address: str) -> int:
    """The delivery a genuine unsubscribe address names; TokenInvalid when it is not one of ours (forged or
    another shape), TokenExpired when older than RECIPIENT_TOKEN_MAX_AGE."""
    match = _MAILTO_UNSUBSCRIBE.match((address or "").strip().strip("<>"))
    if match is None:
        raise TokenInvalid()
    max_age = current_app.config["RECIPIENT_TOKEN_MAX_AGE"]
    return address_keys(MAILTO_UNSUBSCRIBE_PURPOSE).read(match["token"], max_age)


class CampaignLinks:
    """The same URLs for every recipient of one campaign, made with one HMAC per URL kind and recipient."""

    def __init__(self, campaign_public_id: str, link_ids: Iterable[int]):
        self.campaign = campaign_public_id
        self.base = base_url()
        routes = RECIPIENT_URLS
        self.unsubscribe_prefix = self.base + routes[RecipientLink.ONE_CLICK].path
        self.preferences_prefix = self.base + routes[RecipientLink.PREFERENCES].path
        self.open_prefix = self.base + routes[RecipientLink.OPEN].path
        self.click_base = self.base + routes[RecipientLink.CLICK].path
        self.unsubscribe_keys = compact_keys(routes[RecipientLink.ONE_CLICK].purpose)
        self.preferences_keys = compact_keys(routes[RecipientLink.PREFERENCES].purpose)
        self.open_keys = compact_keys(routes[RecipientLink.OPEN].purpose)
        self.click_keys = compact_keys(routes[RecipientLink.CLICK].purpose)
        # The link half of each click token names no recipient: made once per campaign.
        self.link_parts = {
            link_id: self.click_keys.link_part(campaign_public_id, link_id) for link_id in link_ids
        }

    def anonymous_click_url(self, link_id: int) -> str:
        """A recipient-free redirect for one link (one URL for everyone; counted as a per-link total only)."""
        return external_url("public.track_anonymous_click", campaign_public_id=self.campaign, link_id=link_id)

    def unsubscribe_url(self, contact_public_id: str, list_public_id: str | None) -> str:
        """This recipient's one-click (and footer) unsubscribe URL for the list the message is sent for."""
        token = self.unsubscribe_keys.recipient((contact_public_id, list_public_id, self.campaign))
        return self.unsubscribe_prefix + token

    def preferences_url(self, contact_public_id: str) -> str:
        """This recipient's preference centre."""
        return self.preferences_prefix + self.preferences_keys.recipient((contact_public_id,))

    def open_pixel_url(self, contact_public_id: str) -> str:
        """This recipient's open pixel (only with open-tracking consent)."""
        return self.open_prefix + self.open_keys.recipient((self.campaign, contact_public_id))

    def click_prefix(self, contact_public_id: str) -> str:
        """What this recipient's click URLs start with; each link's URL is this + its link part."""
        return f"{self.click_base}{self.click_keys.recipient((self.campaign, contact_public_id))}."

    def click_urls(self, contact_public_id: str) -> dict[int, str]:
        """link id -> this recipient's tracked URL for every link of the campaign."""
        prefix = self.click_prefix(contact_public_id)
        return {link_id: prefix + part for link_id, part in self.link_parts.items()}
