"""/api/v1/feeds: an integration creates a feed campaign against a real feed on loopback, runs it now (the
worker fetches the feed and the campaign arrives through SMTP), reads its runs with the campaign each one
created, changes, pauses and resumes it; bad input is a 422 naming the field, read-only keys are refused."""

import pytest
from sqlalchemy import select

from mailer.campaigns.models import Campaign
from mailer.core.extensions import db
from mailer.delivery.relays import RelayFields, TlsMode, save_relay
from mailer.feeds.models import Feed
from mailer.subscriptions.lists import create_list
from tests.feeds.test_feeds import FIRST, SECOND, rss
from tests.support.campaigns import make_layout, subscriber, wait_for
from tests.support.receiver import Answer, Receiver

pytestmark = pytest.mark.config(MAILER_OUTBOUND_ALLOW_HOSTS=["127.0.0.1"], SEND_RATE_PER_SECOND=0)


@pytest.fixture
def server():
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def test_create_run_and_read_the_runs_of_a_feed(app_ctx, api, read_api, worker, smtp_server, server):
    server.answers = [Answer(body=rss(FIRST))]
    news = create_list("Garden news")
    subscriber(news, "ann@example.com", "Ann")
    layout = make_layout()
    relay = save_relay(None, RelayFields(name="bulk", host="127.0.0.1", port=1, tls_mode=TlsMode.NONE))
    db.session.commit()
    body = {"name": "Garden digest", "url": server.url("/rss"), "list_id": news.public_id}
    body |= {"layout_id": layout.public_id, "frequency": "weekly", "weekday": 0, "hour": 9}
    body |= {"timezone": "Europe/Berlin"}

    assert read_api.post("/feeds", json=body).status_code == 403
    private = api.post("/feeds", json=body | {"url": "http://10.0.0.7/rss"})
    assert private.status_code == 422 and "private or reserved address" in private.json["detail"]["url"]
    assert api.post("/feeds", json=body | {"hour": 24}).json["detail"] == {
        "hour": "must be a whole number from 0 to 23"
    }
    assert api.post("/feeds", json=body | {"weekday": True}).status_code == 422
    assert api.post("/feeds", json=body | {"list_id": "nope"}).json["detail"] == {"list_id": "unknown: nope"}
    assert api.post("/feeds", json=body | {"timezone": "Mars/Olympus"}).json["detail"] == {
        "timezone": "Unknown time zone: Mars/Olympus"
    }
    assert (
        api.post("/feeds", json=body | {"body": "{% for %}"})
        .json["detail"]["body"]
        .startswith("The content template has an error")
    )
    assert api.post("/feeds", json=body | {"relay": "nope"}).json["detail"] == {"relay": "unknown: nope"}
    assert db.session.execute(select(Feed)).first() is None  # nothing half-written

    created = api.post("/feeds", json=body)
    assert created.status_code == 201, created.json
    feed = created.json
    assert feed["status"] == "paused" and feed["next_run_at"] is None and feed["relay"] is None
    assert feed["list_id"] == news.public_id and feed["layout_id"] == layout.public_id
    path = f"/feeds/{feed['id']}"
    assert read_api.get(path).json == feed
    assert [f["id"] for f in read_api.get("/feeds").json["data"]] == [feed["id"]]

    changed = api.patch(path, json={"relay": "bulk", "max_items": 5})
    assert changed.status_code == 200 and changed.json["relay"] == "bulk" and changed.json["max_items"] == 5
    assert api.patch(path, json={"failover_relay": "bulk"}).json["detail"] == {
        "failover_relay": "The failover relay must be another relay than the first one."
    }
    assert api.patch(path, json={"relay": None}).json["relay"] is None
    assert db.session.get(Feed, db.session.execute(select(Feed.id)).scalar_one()).relay_id is None
    assert relay.id  # the relay stays; only the feed's choice changed

    resumed = api.post(f"{path}/resume")
    assert resumed.status_code == 200 and resumed.json["status"] == "active" and resumed.json["next_run_at"]
    assert read_api.post(f"{path}/run").status_code == 403
    queued = api.post(f"{path}/run")
    assert queued.status_code == 202 and queued.json == {"queued": True}
    worker.drain()
    wait_for(lambda: smtp_server.to("ann@example.com"), timeout=600, what="the feed's campaign to arrive")
    assert [m.message["Subject"] for m in smtp_server.to("ann@example.com")] == [
        "Garden blog: Spring planting"
    ]

    server.answers = [Answer(body=rss(SECOND, FIRST))]
    server.requests.clear()
    api.post(f"{path}/run")
    worker.drain()
    runs = read_api.get(f"{path}/runs").json
    campaign = db.session.execute(select(Campaign).order_by(Campaign.id)).scalars().all()
    assert [r["outcome"] for r in runs["data"]] == ["sent", "sent"]
    assert [r["campaign"]["id"] for r in runs["data"]] == [c.public_id for c in reversed(campaign)]
    assert runs["data"][0]["new_items"] == 1 and runs["data"][1]["items_found"] == 1
    assert all(r["manual"] for r in runs["data"]) and runs["next_cursor"] is None
    first_page = read_api.get(f"{path}/runs?limit=1").json
    assert len(first_page["data"]) == 1 and first_page["next_cursor"] == runs["data"][0]["id"]
    second = read_api.get(f"{path}/runs?limit=1&after={first_page['next_cursor']}").json
    assert second["data"] == [runs["data"][1]] and second["next_cursor"] is None
    assert read_api.get(f"{path}/runs?after=x").status_code == 422

    paused = api.post(f"{path}/pause")
    assert paused.json["status"] == "paused" and paused.json["next_run_at"] is None
    assert api.get("/feeds/nope").status_code == 404
    assert api.post("/feeds/nope/run").status_code == 404
    assert api.patch(path, json={"colour": "red"}).status_code == 422
