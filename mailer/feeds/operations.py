"""Feed campaigns: create and edit them, pause and resume, and run them — on their schedule or now.

A run fetches the feed, keeps the items not sent before (by GUID, else link; and none older than the newest
item already sent), and when there are any makes a normal campaign of them (the feed's subject and body
templates, rendered in Jinja's sandbox with the items, in the feed's layout, to its list) and starts it:
the campaigns' compliance preview, eligibility, footer and one-click unsubscribe apply as to any campaign.
The items are remembered in the same transaction as the campaign, so an item goes out once. Every run is
recorded: items found, new items, the campaign or "nothing new", or the error.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext
from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import insert, select, update

from mailer.campaigns.lifecycle import start_campaign
from mailer.campaigns.models import Campaign, Layout
from mailer.campaigns.rendering import CampaignError
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.outbound import OutboundRefused, check_url
from mailer.core.text import has_controls
from mailer.delivery.relays import Relay
from mailer.feeds.items import FeedError, FeedItem, fetch_items
from mailer.feeds.models import Feed, FeedItemSent, FeedRun, FeedStatus, RunOutcome
from mailer.subscriptions.models.lists import MailingList

log = logging.getLogger(__name__)
FREQUENCIES = ("daily", "weekly")
DEFAULT_SUBJECT = "{{ feed_title or 'New posts' }}: {{ items[0].title_text }}"
DEFAULT_BODY = """<h1>{{ feed_title or 'New posts' }}</h1>
{% for item in items %}
<h2><a href="{{ item.link }}">{{ item.title }}</a></h2>
{% if item.date %}<p><small>{{ item.date }}</small></p>{% endif %}
{% if item.image %}<p><img src="{{ item.image }}" alt="" style="max-width:100%"></p>{% endif %}
<p>{{ item.summary | truncate(400) }}</p>
<p><a href="{{ item.link }}">Read more</a></p>
{% endfor %}
"""


@dataclass
class FeedInput:
    """A feed campaign as a marketer typed it."""

    name: str
    url: str
    list_id: int | None
    layout_id: int | None = None
    frequency: str = "daily"
    weekday: int = 0
    hour: int = 9
    timezone: str = "UTC"
    max_items: int = 10
    subject: str = DEFAULT_SUBJECT
    body: str = DEFAULT_BODY
    track_clicks: bool = True
    relay_id: int | None = None  # None: the default relay (SMTP_URL)
    failover_relay_id: int | None = None


def _sandbox() -> SandboxedEnvironment:
    return SandboxedEnvironment(autoescape=True)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise FeedError(gettext("Unknown time zone: %(name)s", name=name), "timezone") from None


def next_run(feed: Feed, now: datetime) -> datetime:
    """The next scheduled run after `now` (naive UTC): the hour of the day, or of the weekday, in its zone."""
    tz = _zone(feed.timezone)
    local = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz)
    candidate = local.replace(hour=feed.hour, minute=0, second=0, microsecond=0)
    if feed.frequency == "weekly":
        candidate += timedelta(days=(feed.weekday - local.weekday()) % 7)
    step = timedelta(days=7 if feed.frequency == "weekly" else 1)
    while candidate <= local:
        candidate += step
    # Re-attach the zone so that day's offset (summer or winter time) is the one used.
    candidate = candidate.replace(tzinfo=None).replace(tzinfo=tz)
    return candidate.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def _apply(feed: Feed, data: FeedInput) -> None:
    name = " ".join((data.name or "").split())
    if not name or len(name) > 200 or has_controls(name):
        raise FeedError(gettext("Give the feed campaign a name (200 characters at most)."), "name")
    try:
        url = check_url(data.url)
    except OutboundRefused as exc:
        raise FeedError(exc.reason, "url") from None
    mailing_list = db.session.get(MailingList, data.list_id) if data.list_id else None
    if mailing_list is None or mailing_list.archived_at is not None:
        raise FeedError(gettext("Choose the list the campaigns are sent to (an active list)."), "list_id")
    if data.layout_id is not None and db.session.get(Layout, data.layout_id) is None:
        raise FeedError(gettext("Choose a layout."), "layout_id")
    if data.frequency not in FREQUENCIES:
        raise FeedError(gettext("Send daily or weekly."), "frequency")
    if not 0 <= data.weekday <= 6 or not 0 <= data.hour <= 23:
        raise FeedError(gettext("Choose a weekday and an hour from 0 to 23."), "hour")
    _zone(data.timezone or "UTC")
    for relay_id in (data.relay_id, data.failover_relay_id):
        if relay_id is not None and db.session.get(Relay, relay_id) is None:
            raise FeedError(gettext("That relay does not exist any more."), "relay_id")
    if data.relay_id is not None and data.failover_relay_id == data.relay_id:
        raise FeedError(
            gettext("The failover relay must be another relay than the first one."), "failover_relay_id"
        )
    if not 1 <= data.max_items <= 50:
        raise FeedError(gettext("A campaign carries 1 to 50 items."), "max_items")
    subject, body = (data.subject or "").strip(), data.body or ""
    if not subject or len(subject) > 300:
        raise FeedError(gettext("Write the subject line (300 characters at most)."), "subject")
    if not body.strip():
        raise FeedError(gettext("Write the email's content (a loop over the items)."), "body")
    for field, source in (("subject", subject), ("body", body)):
        try:
            _sandbox().parse(source)
        except TemplateError as exc:
            problem = (
                gettext("The subject template has an error: %(error)s", error=str(exc))
                if field == "subject"
                else gettext("The content template has an error: %(error)s", error=str(exc))
            )
            raise FeedError(problem, field) from None
    feed.name, feed.url, feed.list_id, feed.layout_id = name, url, mailing_list.id, data.layout_id
    feed.frequency, feed.weekday, feed.hour = data.frequency, data.weekday, data.hour
    feed.timezone, feed.max_items = data.timezone or "UTC", data.max_items
    feed.subject, feed.body, feed.track_clicks = subject, body, data.track_clicks
    feed.relay_id, feed.failover_relay_id = data.relay_id, data.failover_relay_id


def save_feed(data: FeedInput, feed: Feed | None = None) -> Feed:
    """Create (paused) or change a feed campaign; FeedError with the reason. The caller commits."""
    if feed is None:
        feed = Feed(status=FeedStatus.PAUSED)
        _apply(feed, data)
        db.session.add(feed)
    else:
        _apply(feed, data)
    if feed.status == FeedStatus.ACTIVE:
        feed.next_run_at = next_run(feed, utcnow())
    db.session.flush()
    return feed


def resume(feed: Feed) -> None:
    """Run on the schedule from now on (the next run is the next scheduled hour). The caller commits."""
    feed.status, feed.next_run_at = FeedStatus.ACTIVE, next_run(feed, utcnow())


def pause(feed: Feed) -> None:
    """No scheduled run until resumed. The caller commits."""
    feed.status, feed.next_run_at = FeedStatus.PAUSED, None


def _render(feed: Feed, title: str, items: list[FeedItem]) -> tuple[str, str]:
    """The campaign's subject and body from the feed's templates (sandboxed; item text is already inert)."""
    env = _sandbox()
    context = {"items": items, "feed_title": title, "feed_name": feed.name}
    try:
        body = env.from_string(feed.body).render(context)
        subject = SandboxedEnvironment(autoescape=False).from_string(feed.subject).render(context)
    except TemplateError as exc:
        raise FeedError(f"The feed's template could not be rendered: {exc}") from None
    subject = " ".join(subject.split())[:300]
    return subject or feed.name, body


def _new_items(feed: Feed, items: list[FeedItem]) -> list[FeedItem]:
    """The items not sent before and not older than the newest one sent, newest first, at most max_items."""
    keys = [item.key for item in items]
    sent = set(
        db.session.execute(
            select(FeedItemSent.key).where(FeedItemSent.feed_id == feed.id, FeedItemSent.key.in_(keys))
        ).scalars()
    )
    fresh = [
        item
        for item in items
        if item.key not in sent
        and not (feed.last_item_at and item.published and item.published <= feed.last_item_at)
    ]
    return fresh[: feed.max_items]


def _send(feed: Feed, run: FeedRun, title: str, items: list[FeedItem], now: datetime) -> Campaign:
    """A campaign of the items, started (the campaigns' own checks); the items remembered with it.

    The run names the campaign before it starts, so what the start announces (webhooks) finds its feed."""
    subject, body = _render(feed, title, items)
    campaign = Campaign(
        name=f"{feed.name} · {now:%Y-%m-%d %H:%M}",
        subject=subject,
        preheader=items[0].title_text[:300],
        body=body,
        body_format="html",
        layout_id=feed.layout_id,
        track_clicks=feed.track_clicks,
        track_opens=False,
        category="marketing",
        relay_id=feed.relay_id,
        failover_relay_id=feed.failover_relay_id,
    )
    campaign.lists = [feed.mailing_list]
    db.session.add(campaign)
    db.session.flush()
    run.campaign_id = campaign.id
    db.session.flush()
    start_campaign(campaign)
    db.session.execute(
        insert(FeedItemSent),
        [{"feed_id": feed.id, "key": item.key, "campaign_id": campaign.id, "sent_at": now} for item in items],
    )
    dates = [item.published for item in items if item.published]
    if dates:
        feed.last_item_at = max([*dates, *([feed.last_item_at] if feed.last_item_at else [])])
    return campaign


def run_feed(feed: Feed, manual: bool = False) -> FeedRun:
    """Fetch the feed and send its new items as a campaign, or record "nothing new" or the error. Commits."""
    now = utcnow()
    run = FeedRun(feed_id=feed.id, started_at=now, manual=manual, outcome=RunOutcome.ERROR)
    db.session.add(run)
    try:
        title, items = fetch_items(feed.url)
        fresh = _new_items(feed, items)
        run.items_found, run.new_items = len(items), len(fresh)
        if not fresh:
            run.outcome = RunOutcome.NOTHING_NEW
        else:
            with db.session.begin_nested():  # nothing of the campaign stays when it cannot be sent
                _send(feed, run, title, fresh, now)
            run.outcome = RunOutcome.SENT
    except (FeedError, CampaignError, ValueError) as exc:
        run.campaign_id, run.error = None, str(exc)[:2000]
        log.warning("Feed %s: run failed: %s", feed.public_id, run.error)
    feed.last_run_at = now
    db.session.commit()
    return run


def claim_due(now: datetime) -> list[int]:
    """Active feeds whose time has come, each moved on to its next run in one conditional UPDATE (so two
    schedulers never run a feed twice); their ids. Commits."""
    due = list(
        db.session.execute(
            select(Feed.id).where(Feed.status == FeedStatus.ACTIVE, Feed.next_run_at <= now)
        ).scalars()
    )
    claimed = []
    for feed_id in due:
        feed = db.session.get(Feed, feed_id)
        if feed is None:
            continue
        taken = db.session.execute(
            update(Feed)
            .where(Feed.id == feed_id, Feed.status == FeedStatus.ACTIVE, Feed.next_run_at <= now)
            .values(next_run_at=next_run(feed, now))
            .returning(Feed.id)
            .execution_options(synchronize_session=False)
        ).first()
        if taken is not None:
            claimed.append(feed_id)
    db.session.commit()
    return claimed


def feed_of_campaign(campaign_id: int) -> Feed | None:
    """The feed whose run created this campaign, if one did."""
    return db.session.execute(
        select(Feed)
        .join(FeedRun, FeedRun.feed_id == Feed.id)
        .where(FeedRun.campaign_id == campaign_id)
        .limit(1)
    ).scalar_one_or_none()


def runs_of(feed: Feed, limit: int = 50) -> list[FeedRun]:
    """The feed's latest runs, newest first."""
    return list(
        db.session.execute(
            select(FeedRun).where(FeedRun.feed_id == feed.id).order_by(FeedRun.id.desc()).limit(limit)
        ).scalars()
    )
