"""Feed campaigns (RSS-to-email) through the API as in the admin: list, get, create, change, pause, resume,
run now, and the record of their runs with the campaign each run created. Every rule is the admin's
(mailer.feeds.operations): the SSRF rule on the feed's address, the sandboxed templates, the schedule."""

from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select

from mailer.api.errors import ApiError
from mailer.api.fields import REQUIRED, Flag, RequestSchema, Text, page_of, public_id, timestamp
from mailer.api.inputs import DEFAULT_PAGE_SIZE, Limit, PageQuery, id_named, paged
from mailer.api.routing import api_route
from mailer.api.schemas import one_of
from mailer.api.serializers import iso
from mailer.campaigns.models import Layout
from mailer.core.broker import enqueue_after_commit
from mailer.core.extensions import db
from mailer.delivery.relays import Relay
from mailer.feeds import operations as feeds
from mailer.feeds.items import FeedError
from mailer.feeds.models import Feed, FeedRun, FeedStatus, RunOutcome
from mailer.subscriptions.models.lists import MailingList

RELAY_HELP = "The name of the relay its campaigns are sent through; null: the default relay (SMTP_URL)."
FAILOVER_HELP = "The relay its campaigns fail over to when the first is down; null: none (they wait)."
# The operation's setting -> the API's field, for the messages it gives back.
API_FIELDS = {"relay_id": "relay", "failover_relay_id": "failover_relay"}


class WholeNumber(fields.Integer):
    """A JSON integer from `low` to `high` (true and false are refused: they are not numbers in JSON)."""

    def __init__(self, low: int, high: int, **kwargs):
        message = f"must be a whole number from {low} to {high}"
        super().__init__(strict=True, validate=validate.Range(low, high, error=message), **kwargs)
        self.error_messages.update(required=REQUIRED, invalid=message, null=message)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class FeedWrite(RequestSchema):
    """A feed campaign's settings; on PATCH, only what changes."""

    name = Text(max_length=200)
    url = Text(max_length=2048, metadata={"description": "The RSS or Atom feed's address (public http(s))."})
    list_id = Text(max_length=64, metadata={"description": "The public id of the list its campaigns go to."})
    layout_id = Text(allow_none=True, max_length=64, metadata={"description": "A layout's public id."})
    frequency = Text(validate=validate.OneOf(feeds.FREQUENCIES, error="must be daily or weekly"))
    weekday = WholeNumber(0, 6, metadata={"description": "Weekly feeds: 0 = Monday … 6 = Sunday."})
    hour = WholeNumber(0, 23, metadata={"description": "The hour of the run, in `timezone`."})
    timezone = Text(max_length=64, metadata={"description": "An IANA time zone, e.g. Europe/Rome."})
    max_items = WholeNumber(1, 50, metadata={"description": "At most this many items per email."})
    subject = Text(max_length=300, metadata={"description": "A template: feed_title, items[0].title_text …"})
    body = Text(
        multiline=True, max_length=20_000, metadata={"description": "HTML template looping over items."}
    )
    track_clicks = Flag()
    relay = Text(allow_none=True, max_length=63, metadata={"description": RELAY_HELP})
    failover_relay = Text(allow_none=True, max_length=63, metadata={"description": FAILOVER_HELP})


class FeedCreate(FeedWrite):
    name = Text(required=True, max_length=200)
    url = Text(
        required=True, max_length=2048, metadata={"description": "The RSS or Atom feed's address (public)."}
    )
    list_id = Text(
        required=True,
        max_length=64,
        metadata={"description": "The public id of the list its campaigns go to."},
    )


class FeedSchema(Schema):
    id = public_id()
    name = fields.String()
    url = fields.String()
    status = one_of(FeedStatus, metadata={"description": "active: runs on its schedule; paused: waits."})
    list_id = public_id()
    layout_id = fields.String(allow_none=True)
    frequency = one_of(feeds.FREQUENCIES)
    weekday = fields.Integer(metadata={"description": "Weekly feeds: 0 = Monday … 6 = Sunday."})
    hour = fields.Integer(metadata={"description": "The hour of the run, in `timezone`."})
    timezone = fields.String()
    max_items = fields.Integer()
    subject = fields.String()
    body = fields.String()
    track_clicks = fields.Boolean()
    relay = fields.String(allow_none=True, metadata={"description": RELAY_HELP})
    failover_relay = fields.String(allow_none=True, metadata={"description": FAILOVER_HELP})
    next_run_at = timestamp("When it runs next (null while paused).")
    last_run_at = timestamp()
    created_at = timestamp()


class RunCampaignSchema(Schema):
    id = public_id()
    name = fields.String()
    status = fields.String()


class FeedRunSchema(Schema):
    id = fields.String(metadata={"description": "The run's id (newer runs have higher ids)."})
    started_at = timestamp()
    manual = fields.Boolean(metadata={"description": "Run now (by a person or the API), not the schedule."})
    outcome = one_of(RunOutcome, metadata={"description": "sent: a campaign was made and started."})
    items_found = fields.Integer()
    new_items = fields.Integer()
    error = fields.String(allow_none=True, metadata={"description": "Why the run failed (outcome error)."})
    campaign = fields.Nested(
        RunCampaignSchema, allow_none=True, metadata={"description": "The campaign this run created, if any."}
    )


class RunQueued(Schema):
    queued = fields.Boolean()


FeedPage = page_of(FeedSchema, "FeedPage")
FeedRunPage = page_of(FeedRunSchema, "FeedRunPage")


def _run_id(value: str) -> None:
    if not value.isdigit() or len(value) > 18:
        raise ValidationError("is not a run id this API gave out")


class RunsQuery(RequestSchema):
    """Newest first: `after` is the id of the last run already seen."""

    after = Text(validate=_run_id, metadata={"description": "Continue after the run with this id."})
    limit = Limit(load_default=DEFAULT_PAGE_SIZE)


def feed_json(feed: Feed) -> dict:
    """A feed campaign as the API shows it."""
    return {
        "id": feed.public_id,
        "name": feed.name,
        "url": feed.url,
        "status": feed.status,
        "list_id": feed.mailing_list.public_id,
        "layout_id": feed.layout.public_id if feed.layout else None,
        "frequency": feed.frequency,
        "weekday": feed.weekday,
        "hour": feed.hour,
        "timezone": feed.timezone,
        "max_items": feed.max_items,
        "subject": feed.subject,
        "body": feed.body,
        "track_clicks": feed.track_clicks,
        "relay": feed.relay.name if feed.relay else None,
        "failover_relay": feed.failover_relay.name if feed.failover_relay else None,
        "next_run_at": iso(feed.next_run_at),
        "last_run_at": iso(feed.last_run_at),
        "created_at": iso(feed.created_at),
    }


def run_json(run: FeedRun) -> dict:
    campaign = run.campaign
    return {
        "id": str(run.id),
        "started_at": iso(run.started_at),
        "manual": run.manual,
        "outcome": run.outcome,
        "items_found": run.items_found,
        "new_items": run.new_items,
        "error": run.error or None,
        "campaign": {"id": campaign.public_id, "name": campaign.name, "status": campaign.status}
        if campaign
        else None,
    }


def _feed(public_id: str) -> Feed:
    feed = db.session.execute(select(Feed).where(Feed.public_id == public_id[:32])).scalar_one_or_none()
    if feed is None:
        raise ApiError(404, "There is no feed campaign with this id.", {"feed_id": public_id[:64]})
    return feed


def _input(body: dict, feed: Feed | None) -> feeds.FeedInput:
    """The operation's input: the feed as it is (or the defaults), with what the body names."""
    given = feeds.FeedInput(name="", url="", list_id=None)
    if feed is not None:
        given = feeds.FeedInput(
            name=feed.name,
            url=feed.url,
            list_id=feed.list_id,
            layout_id=feed.layout_id,
            frequency=feed.frequency,
            weekday=feed.weekday,
            hour=feed.hour,
            timezone=feed.timezone,
            max_items=feed.max_items,
            subject=feed.subject,
            body=feed.body,
            track_clicks=feed.track_clicks,
            relay_id=feed.relay_id,
            failover_relay_id=feed.failover_relay_id,
        )
    for name in ("name", "url", "frequency", "weekday", "hour", "timezone", "max_items", "subject", "body"):
        if name in body:
            setattr(given, name, body[name])
    if "track_clicks" in body:
        given.track_clicks = body["track_clicks"]
    if "list_id" in body:
        given.list_id = id_named(MailingList, MailingList.public_id, body["list_id"], "list_id")
    if "layout_id" in body:
        given.layout_id = id_named(Layout, Layout.public_id, body["layout_id"], "layout_id")
    if "relay" in body:
        given.relay_id = id_named(Relay, Relay.name, body["relay"], "relay")
    if "failover_relay" in body:
        given.failover_relay_id = id_named(Relay, Relay.name, body["failover_relay"], "failover_relay")
    return given


def _save(body: dict, feed: Feed | None) -> Feed:
    try:
        saved = feeds.save_feed(_input(body, feed), feed)
    except FeedError as exc:
        db.session.rollback()
        field_name = API_FIELDS.get(exc.field, exc.field or "body")
        raise ApiError(422, "Some values are not valid.", {field_name: str(exc)}) from None
    db.session.commit()
    return saved


@api_route("/feeds", query=PageQuery, responses={200: FeedPage}, operation_id="listFeeds")
def feeds_index(query: dict):
    """Feed campaigns (RSS-to-email)

    Oldest first, one page at a time.
    """
    return paged(query, select(Feed), Feed, Feed.public_id, feed_json)


@api_route("/feeds", ("POST",), body=FeedCreate, responses={201: FeedSchema}, operation_id="createFeed")
def feed_create(body: dict):
    """Create a feed campaign

    Paused until resumed. The feed's address must lead to a public address (the SSRF rule); the subject
    and body are templates rendered in a sandbox with the feed's new items. 422 names the field that is
    wrong.
    """
    return feed_json(_save(body, None)), 201


@api_route("/feeds/<public_id>", responses={200: FeedSchema}, operation_id="getFeed")
def feed_show(public_id: str):
    """One feed campaign"""
    return feed_json(_feed(public_id))


@api_route(
    "/feeds/<public_id>", ("PATCH",), body=FeedWrite, responses={200: FeedSchema}, operation_id="updateFeed"
)
def feed_update(public_id: str, body: dict):
    """Change a feed campaign

    Any of its settings; fields left out stay. An active feed's next run follows the new schedule.
    """
    return feed_json(_save(body, _feed(public_id)))


def _changed(public_id: str, change) -> dict:
    feed = _feed(public_id)
    change(feed)
    db.session.commit()
    return feed_json(feed)


@api_route("/feeds/<public_id>/pause", ("POST",), responses={200: FeedSchema}, operation_id="pauseFeed")
def feed_pause(public_id: str):
    """Pause a feed campaign

    No scheduled run until it is resumed (a run now still works).
    """
    return _changed(public_id, feeds.pause)


@api_route("/feeds/<public_id>/resume", ("POST",), responses={200: FeedSchema}, operation_id="resumeFeed")
def feed_resume(public_id: str):
    """Resume a feed campaign

    It runs on its schedule from now on: `next_run_at` is the next scheduled hour.
    """
    return _changed(public_id, feeds.resume)


@api_route("/feeds/<public_id>/run", ("POST",), responses={202: RunQueued}, operation_id="runFeed")
def feed_run(public_id: str):
    """Run a feed campaign now

    Queues a run (paused or not): it fetches the feed and, when there are new items, makes and starts a
    campaign of them. Its outcome shows in GET /feeds/{public_id}/runs.
    """
    feed = _feed(public_id)
    enqueue_after_commit(db.session, "run_feed", feed.id, True)
    db.session.commit()
    return {"queued": True}, 202


@api_route(
    "/feeds/<public_id>/runs", query=RunsQuery, responses={200: FeedRunPage}, operation_id="listFeedRuns"
)
def feed_runs(public_id: str, query: dict):
    """A feed campaign's runs

    Newest first, one page at a time: items found, how many were new, the outcome and the campaign the
    run created.
    """
    feed = _feed(public_id)
    rows = select(FeedRun).where(FeedRun.feed_id == feed.id)
    if "after" in query:
        rows = rows.where(FeedRun.id < int(query["after"]))
    found = list(db.session.execute(rows.order_by(FeedRun.id.desc()).limit(query["limit"] + 1)).scalars())
    more = len(found) > query["limit"]
    found = found[: query["limit"]]
    return {"data": [run_json(r) for r in found], "next_cursor": str(found[-1].id) if more else None}
