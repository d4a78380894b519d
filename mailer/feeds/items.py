"""Fetching a feed (through the one outbound-HTTP rule: public addresses only, a timeout, a size cap) and
reading its items with feedparser: title, link, summary (feedparser's sanitiser, then also as plain text),
publication date and an image, each made inert for the campaign's own template engine."""

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import feedparser
from markupsafe import Markup, escape

from mailer.core.outbound import OutboundError, fetch
from mailer.core.sentences import N_, Sentence

FETCH_TIMEOUT_SECONDS = 15.0
MAX_FEED_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 3
ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1"
_TAG = re.compile(r"<[^>]+>")
_DELIMITER = re.compile(r"\{([{%#])")


# Why a run failed, stored with the run and shown translated (core.sentences).
NOT_A_FEED = Sentence(N_("The address did not answer with an RSS or Atom feed."))
FEED_STATUS = Sentence(N_("The feed answered with HTTP status %(status)s."))


class FeedError(ValueError):
    """The feed could not be fetched or read, or its settings are wrong; the message says why, in words for
    people, and `field` names the setting it is about (when it is about one)."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


@dataclass
class FeedItem:
    """One item as a feed template sees it (`item.title`, `item.link`, `item.summary`, `item.date` …)."""

    key: str  # sha256 of the GUID, else of the link: what "already sent" remembers
    title: Markup  # escaped text
    link: str
    summary: Markup  # escaped plain text
    summary_html: Markup  # feedparser's sanitised HTML
    published: datetime | None  # naive UTC
    image: str
    date: str  # the publication date as text (YYYY-MM-DD), or ""
    title_text: str  # plain, for the subject line


def _inert(markup: Markup) -> Markup:
    """HTML the campaign's template engine will not read as its own syntax (a feed could carry `{{ … }}`):
    each opening delimiter becomes a Jinja expression that prints it (character references would not do:
    the campaign's compilation decodes them before each recipient's rendering)."""
    return Markup(_DELIMITER.sub(lambda m: "{{ '{" + m.group(1) + "' }}", str(markup)))


def _plain(text: str) -> str:
    """Text for the subject line, where braces cannot be escaped: they become parentheses."""
    return text.replace("{", "(").replace("}", ")")


def _inert_url(url: str) -> str:
    return url.replace("{", "%7B").replace("}", "%7D")


def _web_url(value: Any) -> str:
    url = str(value or "").strip()
    return _inert_url(url) if url.lower().startswith(("https://", "http://")) else ""


def _image(entry: Any) -> str:
    for media in entry.get("media_content", []) + entry.get("media_thumbnail", []):
        if url := _web_url(media.get("url")):
            return url
    for link in entry.get("links", []) + entry.get("enclosures", []):
        if str(link.get("type", "")).startswith("image/") and (url := _web_url(link.get("href"))):
            return url
    return ""


def _published(entry: Any) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in parsed[:6])
        return datetime(year, month, day, hour, minute, second)  # feedparser gives UTC
    except (TypeError, ValueError):
        return None


def parse_items(document: bytes) -> tuple[str, list[FeedItem]]:
    """The feed's title and its items, newest first; FeedError when it is no feed at all."""
    parsed = feedparser.parse(document, sanitize_html=True, resolve_relative_uris=True)
    if not parsed.entries and (parsed.get("bozo") or not parsed.get("version")):
        raise FeedError(NOT_A_FEED())
    items = []
    for entry in parsed.entries:
        link = _web_url(entry.get("link"))
        identity = str(entry.get("id") or entry.get("guid") or link).strip()
        if not identity:
            continue
        summary_html = str(entry.get("summary") or "")
        text = " ".join(html.unescape(_TAG.sub(" ", summary_html)).split())
        title = " ".join(html.unescape(str(entry.get("title") or "")).split())[:500]
        published = _published(entry)
        items.append(
            FeedItem(
                key=hashlib.sha256(identity.encode()).hexdigest(),
                title=_inert(escape(title)),
                link=link,
                summary=_inert(escape(text[:2000])),
                summary_html=_inert(Markup(summary_html[:20000])),  # feedparser sanitised it
                published=published,
                image=_image(entry),
                date=f"{published:%Y-%m-%d}" if published else "",
                title_text=_plain(title),
            )
        )
    items.sort(key=lambda item: item.published or datetime.min, reverse=True)
    title = _plain(" ".join(html.unescape(str(parsed.feed.get("title") or "")).split())[:200])
    return title, items


def fetch_items(url: str) -> tuple[str, list[FeedItem]]:
    """Fetch and read the feed; FeedError with the reason (refused address, timeout, too big, no feed)."""
    try:
        response = fetch(
            "GET",
            url,
            headers={"Accept": ACCEPT},
            timeout=FETCH_TIMEOUT_SECONDS,
            max_bytes=MAX_FEED_BYTES,
            max_redirects=MAX_REDIRECTS,
        )
    except OutboundError as exc:
        raise FeedError(exc.reason) from None
    if response.status != 200:
        raise FeedError(FEED_STATUS(status=response.status))
    return parse_items(response.body)
