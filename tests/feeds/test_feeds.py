"""RSS-to-email end to end: a real HTTP server on loopback serves a feed (allowed through
MAILER_OUTBOUND_ALLOW_HOSTS), a run makes one campaign of the new items that arrives through SMTP, the next
run finds nothing new, a private address is refused, and runs are recorded."""

import re
from datetime import datetime

import pytest
from sqlalchemy import func, select, text

from mailer.campaigns.models import Campaign
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery.relays import RelayFields, TlsMode, save_relay
from mailer.feeds import operations as feeds
from mailer.feeds.items import FeedError, parse_items
from mailer.feeds.models import Feed, FeedRun
from mailer.subscriptions.lists import create_list
from mailer.webhooks.catalogue import build_payload
from tests.support.campaigns import make_campaign, make_layout, subscriber, wait_for
from tests.support.http import csrf_token
from tests.support.processes import free_port
from tests.support.receiver import Answer, Receiver
from tests.support.relay import RecordingRelay
from tests.webhooks.helpers import deliver, endpoint, verified

pytestmark = pytest.mark.config(MAILER_OUTBOUND_ALLOW_HOSTS=["127.0.0.1"], SEND_RATE_PER_SECOND=0)


def rss(*items: tuple[str, str, str]) -> bytes:
    """An RSS 2.0 document with (guid, title, pubDate) items."""
    entries = "".join(
        f"<item><guid>{guid}</guid><title>{title}</title><link>https://blog.example.org/{guid}</link>"
        f"<description>&lt;p&gt;About {title}&lt;script&gt;alert(1)&lt;/script&gt;&lt;/p&gt;</description>"
        f'<enclosure url="https://blog.example.org/{guid}.jpg" type="image/jpeg" length="1"/>'
        f"<pubDate>{date}</pubDate></item>"
        for guid, title, date in items
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Garden blog</title>'
        f"<link>https://blog.example.org/</link><description>x</description>{entries}</channel></rss>"
    ).encode()


FIRST = ("a1", "Spring planting", "Mon, 02 Mar 2026 08:00:00 GMT")
SECOND = ("a2", "Pruning roses", "Tue, 03 Mar 2026 08:00:00 GMT")
THIRD = ("a3", "Tomatoes {{ contact.email }}", "Wed, 04 Mar 2026 08:00:00 GMT")


@pytest.fixture
def server():
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def _feed(url, **options) -> Feed:
    news = create_list("Garden news")
    subscriber(news, "ann@example.com", "Ann")
    subscriber(news, "bob@example.com", "Bob")
    feed = feeds.save_feed(
        feeds.FeedInput(name="Garden digest", url=url, list_id=news.id, layout_id=make_layout().id, **options)
    )
    db.session.commit()
    return feed


def _runs(feed) -> list[tuple[str, int, int, str]]:
    db.session.expire_all()
    return [
        (r.outcome, r.items_found, r.new_items, r.error)
        for r in db.session.execute(select(FeedRun).where(FeedRun.feed_id == feed.id).order_by(FeedRun.id))
        .scalars()
        .all()
    ]


def test_new_items_become_one_campaign_and_nothing_new_sends_nothing(app_ctx, worker, smtp_server, server):
    server.answers = [Answer(body=rss(SECOND, FIRST), headers={"Content-Type": "application/rss+xml"})]
    feed = _feed(server.url("/feed.xml"))

    run = feeds.run_feed(feed, manual=True)
    worker.drain()
    assert run.outcome == "sent", run.error
    for address in ("ann@example.com", "bob@example.com"):
        wait_for(lambda a=address: smtp_server.to(a), what=f"the campaign to reach {address}")
    for address in ("ann@example.com", "bob@example.com"):
        [message] = smtp_server.to(address)
        assert message.message["Subject"] == "Garden blog: Pruning roses"
        html = message.message.get_body(("html",)).get_content()
        assert "Spring planting" in html and "Pruning roses" in html
        assert "https://blog.example.org/a1" in html or "/c/" in html  # the link (rewritten when tracked)
        assert "About Spring planting" in html and "<script" not in html and "alert(1)" not in html
        assert "https://blog.example.org/a2.jpg" in html
        assert message.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"  # a normal campaign

    # The same feed again: nothing new, no campaign, no email.
    feeds.run_feed(feed)
    worker.drain()
    assert len(smtp_server.to("ann@example.com")) == 1
    # A new item (whose title carries template syntax: it stays text): one more campaign with it alone.
    server.answers = [Answer(body=rss(THIRD, SECOND, FIRST))]
    feeds.run_feed(feed)
    worker.drain()
    wait_for(lambda: len(smtp_server.to("ann@example.com")) == 2, what="the second campaign")
    latest = smtp_server.to("ann@example.com")[-1].message
    body = latest.get_body(("html",)).get_content()
    assert "Tomatoes {{ contact.email }}</a>" in body  # shown as written, not run
    assert "Tomatoes ann@example.com" not in body
    assert "Spring planting" not in body
    assert [o for o, *_ in _runs(feed)] == ["sent", "nothing_new", "sent"]
    assert _runs(feed)[1][:3] == ("nothing_new", 2, 0)
    assert db.session.execute(select(func.count()).select_from(Campaign)).scalar_one() == 2


def test_a_private_address_is_refused_and_the_run_says_so(app, app_ctx, server):
    feed = _feed(server.url("/feed.xml"))
    feed.url = "http://10.1.2.3/feed.xml"
    db.session.commit()
    feeds.run_feed(feed)
    [(outcome, _, _, error)] = _runs(feed)
    assert outcome == "error" and "private or reserved address" in error
    assert server.requests == []
    with pytest.raises(FeedError, match="private or reserved"):
        feeds.save_feed(feeds.FeedInput(name="x", url="http://192.168.1.5/rss", list_id=feed.list_id), feed)


def test_errors_are_recorded(app_ctx, server):
    server.answers = [Answer(status=404, body=b"gone")]
    feed = _feed(server.url("/feed.xml"))
    feeds.run_feed(feed)
    server.answers = [Answer(body=b"<html><body>not a feed</body></html>")]
    feeds.run_feed(feed)
    errors = [error for _, _, _, error in _runs(feed)]
    assert "HTTP status 404" in errors[0] and "did not answer with an RSS or Atom feed" in errors[1]


def test_the_schedule_runs_due_feeds_once(app_ctx, worker, smtp_server, server):
    server.answers = [Answer(body=rss(FIRST))]
    feed = _feed(server.url("/feed.xml"), frequency="weekly", weekday=0, hour=9, timezone="Europe/Berlin")
    feeds.resume(feed)
    db.session.commit()
    # Monday 9:00 in Berlin is 08:00 UTC in winter.
    assert feeds.next_run(feed, datetime(2026, 3, 4, 12, 0)) == datetime(2026, 3, 9, 8, 0)
    assert feeds.next_run(feed, datetime(2026, 3, 30, 6, 0)) == datetime(2026, 3, 30, 7, 0)  # summer time
    feed.next_run_at = datetime(2026, 3, 2, 8, 0)
    db.session.commit()
    assert feeds.claim_due(datetime(2026, 3, 2, 8, 0, 30)) == [feed.id]
    assert feeds.claim_due(datetime(2026, 3, 2, 8, 0, 40)) == []  # moved on to the next Monday
    db.session.expire_all()
    assert db.session.get(Feed, feed.id).next_run_at == datetime(2026, 3, 9, 8, 0)


def test_items_are_read_sanitised_and_inert():
    title, items = parse_items(rss(THIRD, FIRST))
    assert title == "Garden blog"
    assert [i.title for i in items] == ["Tomatoes {{ '{{' }} contact.email }}", "Spring planting"]
    assert items[0].title_text == "Tomatoes (( contact.email ))"
    assert items[1].summary == "About Spring planting" and "<script" not in items[1].summary_html
    assert items[1].image == "https://blog.example.org/a1.jpg" and items[1].date == "2026-03-02"
    assert items[0].published == datetime(2026, 3, 4, 8, 0)


def test_the_feeds_campaigns_go_through_its_relay(app_ctx, worker, smtp_server, server):
    server.answers = [Answer(body=rss(FIRST))]
    relay = RecordingRelay(free_port())
    relay.start()
    try:
        named = save_relay(
            None, RelayFields(name="digests", host="127.0.0.1", port=relay.port, tls_mode=TlsMode.NONE)
        )
        feed = _feed(server.url("/feed.xml"), relay_id=named.id)
        with pytest.raises(FeedError, match="another relay"):
            feeds.save_feed(
                feeds.FeedInput(
                    name="x",
                    url=feed.url,
                    list_id=feed.list_id,
                    relay_id=named.id,
                    failover_relay_id=named.id,
                ),
                feed,
            )
        db.session.rollback()
        with pytest.raises(FeedError, match="does not exist"):
            feeds.save_feed(
                feeds.FeedInput(name="x", url=feed.url, list_id=feed.list_id, relay_id=9999), feed
            )
        db.session.rollback()
        run = feeds.run_feed(feed, manual=True)
        assert run.outcome == "sent", run.error
        worker.drain()
        wait_for(lambda: len(relay.snapshot()[0]) == 2, timeout=600, what="both messages at the feed's relay")
        assert sorted(m.rcpt for m in relay.snapshot()[0]) == ["ann@example.com", "bob@example.com"]
        assert smtp_server.to("ann@example.com") == []  # not through the default relay
        assert db.session.get(Campaign, run.campaign_id).relay_id == named.id
        deliveries = text("SELECT DISTINCT relay FROM deliveries WHERE campaign_id = :id")
        assert db.session.execute(deliveries, {"id": run.campaign_id}).scalars().all() == ["digests"]
    finally:
        relay.close()


@pytest.mark.config(WEBHOOK_RETRY_SCHEDULE="0,0,0", WEBHOOK_TIMEOUT_SECONDS=5)
def test_the_campaign_webhooks_name_the_feed_that_made_the_campaign(app_ctx, worker, smtp_server, server):
    hook = Receiver().start()
    try:
        _made, secret = endpoint(hook, ["campaign.started", "campaign.finished"])
        server.answers = [Answer(body=rss(FIRST))]
        feed = _feed(server.url("/feed.xml"))
        run = feeds.run_feed(feed, manual=True)
        assert run.outcome == "sent", run.error
        worker.drain()
        wait_for(
            lambda: db.session.get(Campaign, run.campaign_id).status == "sent",
            timeout=600,
            what="the feed's campaign to finish sending",
        )
        deliver(worker)
        arrived = [verified(request, secret) for request in hook.wait_for(2, timeout=600)]
        assert sorted(p["type"] for p in arrived) == ["campaign.finished", "campaign.started"]
        campaign = db.session.get(Campaign, run.campaign_id)
        for payload in arrived:
            assert payload["data"]["campaign"]["id"] == campaign.public_id
            assert payload["data"]["feed"] == {"id": feed.public_id, "name": "Garden digest"}
        # A campaign no feed made names no feed.
        other = build_payload(
            "campaign.started", None, {"campaign_id": make_campaign([feed.mailing_list]).id}, utcnow(), False
        )
        assert other["data"]["feed"] is None
    finally:
        hook.stop()


def test_the_pages_create_resume_run_and_show_the_runs(app_ctx, auth, worker, smtp_server, server):
    server.answers = [Answer(body=rss(FIRST))]
    news = create_list("Garden news")
    subscriber(news, "ann@example.com", "Ann")
    layout = make_layout()
    db.session.commit()
    assert "No feed campaigns yet" in auth.get("/admin/feeds").text
    form = {
        "name": "Garden digest",
        "list_id": str(news.id),
        "layout_id": str(layout.id),
        "frequency": "weekly",
    }
    form |= {"weekday": "0", "hour": "9", "timezone": "Europe/Berlin", "max_items": "10"}
    form |= {"subject": feeds.DEFAULT_SUBJECT, "body": feeds.DEFAULT_BODY, "track_clicks": "y"}
    refused = auth.post(
        "/admin/feeds/new",
        data=form
        | {"url": "http://10.0.0.7/rss", "csrf_token": csrf_token(auth.get("/admin/feeds/new").text)},
    )
    assert refused.status_code == 400 and "private or reserved address" in refused.text
    created = auth.post(
        "/admin/feeds/new",
        data=form | {"url": server.url("/rss"), "csrf_token": csrf_token(auth.get("/admin/feeds/new").text)},
    )
    assert created.status_code == 302, created.text[-2000:]
    feed = db.session.execute(select(Feed)).scalar_one()
    page = f"/admin/feeds/{feed.public_id}"
    paused = auth.get(page).text
    assert "Paused" in paused and _buttons(paused) == ["resume", "run"]  # a new feed waits to be resumed
    resumed = auth.post(
        f"{page}/status", data={"action": "resume", "csrf_token": csrf_token(paused)}, follow_redirects=True
    )
    assert "Running" in resumed.text and _buttons(resumed.text) == ["pause", "run"]
    assert "Resumed: it runs on its schedule." in _feedback(resumed.text)
    ran = auth.post(
        f"{page}/status",
        data={"action": "run", "csrf_token": csrf_token(resumed.text)},
        follow_redirects=True,
    )
    assert "New items were sent as a campaign." in _feedback(ran.text)
    # Under load the worker may be slow: wait for the real condition (the campaign has sent every delivery),
    # with a generous bound, rather than for a time.
    [campaign_id] = [r.campaign_id for r in db.session.execute(select(FeedRun)).scalars()]
    wait_for(
        lambda: db.session.get(Campaign, campaign_id).status == "sent",
        timeout=600,
        what="the feed's campaign to finish sending",
    )
    assert [m.message["Subject"] for m in smtp_server.to("ann@example.com")] == [
        "Garden blog: Spring planting"
    ]
    shown = auth.get(page).text
    assert "Running" in shown and "Weekly on Monday at 09:00 (Europe/Berlin)" in shown
    assert "(run now)" in shown and "Garden digest ·" in shown  # the run and its campaign
    assert "Sent through the default relay" in shown
    assert "Garden digest" in auth.get("/admin/feeds").text
    assert auth.post(f"{page}/status", data={"action": "run"}).status_code == 400  # CSRF
    again = auth.post(
        f"{page}/status", data={"action": "pause", "csrf_token": csrf_token(shown)}, follow_redirects=True
    )
    assert "Paused" in again.text and _buttons(again.text) == ["resume", "run"]
    assert "Paused: no scheduled run until you resume it." in _feedback(again.text)
    db.session.expire_all()
    assert db.session.get(Feed, feed.id).next_run_at is None


def _buttons(page: str) -> list[str]:
    """The actions the feed page offers (its buttons' values), in order."""
    return re.findall(r'<button type="submit" class="btn [^"]*" name="action" value="(\w+)"', page)


def _feedback(page: str) -> str:
    """The words next to the buttons (the outcome of the last action)."""
    return page.split("data-feed-feedback>", 1)[1].split("</div>", 1)[0]
