"""Consent-gated open and click tracking (REQUIREMENTS F8, F9).

The endpoints do only what must happen in the request: verify the signed token, find the link's URL (cached)
and hand the event to the in-memory buffer. Consent, machine-likeness and the database write are settled in
batches by mailer.tracking.buffer, so a pixel costs about as much as an empty request.
"""

import base64
import functools
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import delete, func, select

from mailer.campaigns.models import Campaign, Link
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.security import TokenExpired, TokenInvalid, read_token
from mailer.tracking.buffer import buffer_for
from mailer.tracking.models import TrackingEvent
from mailer.tracking.recording import TrackedHit

# The smallest transparent GIF (43 bytes).
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
LINK_CACHE_SECONDS = 300
LINK_CACHE_SIZE = 20_000
# Where the app keeps the lookup of configured data lifetimes (filled by the privacy domain).
LIFETIME_EXTENSION = "mailer.retention_lifetime"

# Substrings of user agents of link scanners, prefetchers and scripts (lower case).
SCANNER_MARKERS = (
    "bot",
    "crawler",
    "spider",
    "preview",
    "scanner",
    "barracuda",
    "mimecast",
    "proofpoint",
    "safelinks",
    "python-",
    "curl/",
    "wget",
    "go-http-client",
    "headlesschrome",
    "phantomjs",
    "java/",
    "okhttp",
    "libwww",
    "httpclient",
    "facebookexternalhit",
    "appengine-google",
    "symantec",
    "forcepoint",
    "trendmicro",
    "sophos",
)
# Mail providers' image proxies fetch when a person opens the message: a human open, seen through a proxy.
IMAGE_PROXY_MARKERS = ("googleimageproxy", "yahoomailproxy", "ggpht.com")


@functools.lru_cache(
    maxsize=4096
)  # a few user agents (mail proxies, common browsers) make most of the traffic
def classify_user_agent(user_agent: str | None) -> str:
    """browser, image-proxy, apple-mpp
    (Apple Mail Privacy Protection's bare 'Mozilla/5.0'), scanner or empty."""
    ua = (user_agent or "").strip()
    if not ua:
        return "empty"
    if ua == "Mozilla/5.0":
        return "apple-mpp"
    lowered = ua.lower()
    if any(marker in lowered for marker in IMAGE_PROXY_MARKERS):
        return "image-proxy"
    if any(marker in lowered for marker in SCANNER_MARKERS):
        return "scanner"
    return "browser"


def _max_age() -> int:
    return current_app.config["RECIPIENT_TOKEN_MAX_AGE"]


def _is_public_id(value) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 32


def track_open(token: str, user_agent: str | None) -> bool:
    """Buffer an open for a genuine, unexpired pixel token; False (and nothing buffered) otherwise."""
    try:
        payload = read_token("open", token, max_age=_max_age())
    except (TokenInvalid, TokenExpired):
        return False
    if not (isinstance(payload, list) and len(payload) == 2 and all(_is_public_id(v) for v in payload)):
        return False
    campaign_public_id, contact_public_id = payload
    buffer_for(current_app).add(
        TrackedHit(
            "open",
            campaign_public_id,
            contact_public_id,
            None,
            classify_user_agent((user_agent or "")[:300]),
            utcnow(),
        )
    )
    return True


@dataclass(frozen=True)
class ClickTarget:
    """Where a click goes; `recorded` says whether an event was buffered (consent is checked when written)."""

    url: str
    recorded: bool


def _click_link(token: str) -> tuple[str, str, int, str, bool] | None:
    """(campaign, contact, link id, url, expired)
    of a genuine click token of a link of its campaign, else None."""
    expired = False
    try:
        payload = read_token("click", token, max_age=_max_age())
    except TokenExpired as exc:
        payload, expired = exc.payload, True  # a genuine old link still goes where it said, untracked
    except TokenInvalid:
        return None
    if not (
        isinstance(payload, list)
        and len(payload) == 3
        and _is_public_id(payload[0])
        and _is_public_id(payload[1])
        and isinstance(payload[2], int)
        and not isinstance(payload[2], bool)
    ):
        return None
    campaign_public_id, contact_public_id, link_id = payload
    url = link_url(campaign_public_id, link_id)
    return None if url is None else (campaign_public_id, contact_public_id, link_id, url, expired)


def track_click(token: str, user_agent: str | None) -> ClickTarget | None:
    """The campaign link a click token points at (and buffer the click),
    or None for a bad or unknown token."""
    link = _click_link(token)
    if link is None:
        return None
    campaign_public_id, contact_public_id, link_id, url, expired = link
    if not expired:
        buffer_for(current_app).add(
            TrackedHit(
                "click",
                campaign_public_id,
                contact_public_id,
                link_id,
                classify_user_agent((user_agent or "")[:300]),
                utcnow(),
            )
        )
    return ClickTarget(url, not expired)


def click_destination(token: str) -> str | None:
    """Where a click token leads, recording nothing (staff looking at a stored message)."""
    link = _click_link(token)
    return None if link is None else link[3]


def track_anonymous_click(campaign_public_id: str, link_id: int) -> str | None:
    """A campaign link reached through its recipient-free URL; counted only when anonymous counts are on."""
    if not _is_public_id(campaign_public_id):
        return None
    url = link_url(campaign_public_id, link_id)
    if url is not None and current_app.config["TRACKING_ANONYMOUS_COUNTS"]:
        buffer_for(current_app).add(
            TrackedHit("click", campaign_public_id, None, link_id, "anonymous", utcnow())
        )
    return url


def anonymous_click_path(campaign_public_id: str, link_id: int) -> str:
    """Path of a campaign link's recipient-free redirect: the same URL for every recipient,
    so it identifies nobody."""
    return f"/t/a/{campaign_public_id}/{link_id}"


class _LinkCache:
    """link id -> (campaign public id, url), per process; links of a campaign never change once it is sent."""

    def __init__(self):
        self._items: dict[int, tuple[str, str, float]] = {}
        self._lock = threading.Lock()

    def get(self, link_id: int) -> tuple[str, str] | None:
        item = self._items.get(link_id)
        if item is None or item[2] < time.monotonic():
            return None
        return item[0], item[1]

    def put(self, link_id: int, campaign_public_id: str, url: str) -> None:
        with self._lock:
            if len(self._items) >= LINK_CACHE_SIZE:
                self._items.clear()
            self._items[link_id] = (campaign_public_id, url, time.monotonic() + LINK_CACHE_SECONDS)


def _link_cache() -> _LinkCache:
    cache = current_app.extensions.get("mailer.link_cache")
    if cache is None:
        cache = current_app.extensions.setdefault("mailer.link_cache", _LinkCache())
    return cache


def link_url(campaign_public_id: str, link_id: int) -> str | None:
    """The URL of a link of this campaign, if it is one and is a safe web address (no open redirect)."""
    cache = _link_cache()
    hit = cache.get(link_id)
    if hit is None:
        row = db.session.execute(
            select(Campaign.public_id, Link.url).join(Link.campaign).where(Link.id == link_id)
        ).first()
        if row is None:
            return None
        hit = (row.public_id, row.url)
        cache.put(link_id, *hit)
    owner, url = hit
    if owner != campaign_public_id:
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def flush_events() -> int:
    """Write every buffered event now (tests, shutdown, the bench); returns how many hits were processed."""
    return buffer_for(current_app).flush()


def tracking_retention_days() -> int:
    """Lifetime of tracking events: the one staff set in the retention settings, else TRACKING_RETENTION_DAYS.

    The retention settings are privacy's: it registers a lookup (category -> days or None) under
    LIFETIME_EXTENSION when the app is created.
    """
    lookup = current_app.extensions.get(LIFETIME_EXTENSION)
    configured = lookup("tracking_events") if lookup is not None else None
    return int(configured) if configured else current_app.config["TRACKING_RETENTION_DAYS"]


def purge_tracking_events(
    dry_run: bool = False, days: int | None = None, batch_size: int = 5000
) -> dict[str, int]:
    """Delete tracking events older than their lifetime (Art. 5(1)(e)); returns {"tracking_events": n}."""
    days = tracking_retention_days() if days is None else days
    cutoff = utcnow() - timedelta(days=days)
    old = select(TrackingEvent.id).where(TrackingEvent.created_at < cutoff)
    if dry_run:
        return {
            "tracking_events": db.session.execute(
                select(func.count()).select_from(old.subquery())
            ).scalar_one()
        }
    removed = 0
    while True:
        ids = db.session.execute(old.order_by(TrackingEvent.id).limit(batch_size)).scalars().all()
        if not ids:
            break
        db.session.execute(delete(TrackingEvent).where(TrackingEvent.id.in_(ids)))
        db.session.commit()
        removed += len(ids)
    return {"tracking_events": removed}
