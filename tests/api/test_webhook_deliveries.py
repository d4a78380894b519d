"""/api/v1/webhooks/{id}/deliveries and the endpoint's state (issue 15, API parity): an integration reads the
delivery log (status, attempts, the answers' codes and bounded excerpts), sends a delivery again (a real
receiver verifies the new attempt with the standardwebhooks package, signed with the current secret after a
rotation), and enables an endpoint the app disabled after repeated failures."""

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from mailer.audit.models import AuditEvent
from mailer.core.extensions import db
from mailer.subscriptions.lists import create_list
from tests.support.campaigns import subscriber
from tests.support.receiver import Answer, Receiver
from tests.webhooks.helpers import SETTINGS, deliver

pytestmark = pytest.mark.config(**SETTINGS)


@pytest.fixture
def receiver():
    """An HTTP server on 127.0.0.1 that records what arrives and answers what the test scripts."""
    server = Receiver().start()
    yield server
    server.stop()


def _endpoint(api, receiver, events=("subscription.confirmed",)) -> tuple[str, str]:
    created = api.post("/webhooks", json={"url": receiver.url("/hook"), "events": list(events)})
    assert created.status_code == 201, created.json
    return created.json["id"], created.json["secret"]


def _audited(action: str) -> int:
    """How many audit rows of this action, each made through the API (named with the key)."""
    rows = list(db.session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars())
    assert all(row.details.get("via") == "api" and len(row.details["api_key"]) == 8 for row in rows), rows
    return len(rows)


def test_the_delivery_log_shows_each_attempt_with_its_answer(app_ctx, api, read_api, worker, receiver):
    receiver.answers = [Answer(status=500, body=b"x" * 5000), Answer(status=200, body=b"thanks")]
    endpoint_id, secret = _endpoint(api, receiver)
    assert api.post(f"/webhooks/{endpoint_id}/test").status_code == 202
    deliver(worker)
    pending = read_api.get(f"/webhooks/{endpoint_id}/deliveries").json
    [delivery] = pending["data"]
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("pending", 1, 500)
    assert delivery["response_excerpt"] == "x" * 200  # bounded in a page of the log
    assert delivery["event_type"] == "webhook.test" and delivery["next_attempt_at"]
    deliver(worker)

    [done] = read_api.get(f"/webhooks/{endpoint_id}/deliveries").json["data"]
    assert (done["status"], done["attempts"], done["last_status_code"]) == ("succeeded", 2, 200)
    assert done["response_excerpt"] == "thanks" and done["completed_at"] and done["next_attempt_at"] is None
    assert done["event_id"] == receiver.requests[0].headers["webhook-id"]
    assert (
        Webhook(secret).verify(receiver.requests[1].body, receiver.requests[1].headers)["type"]
        == "webhook.test"
    )

    shown = read_api.get(f"/webhooks/{endpoint_id}/deliveries/{done['id']}")
    assert shown.status_code == 200
    log = shown.json["attempt_log"]
    assert [(a["status_code"], len(a["response_excerpt"])) for a in log] == [(500, 1000), (200, 6)]
    assert all(a["attempted_at"] for a in log) and [a["error"] for a in log] == [
        "The endpoint answered 500.",
        "",
    ]


def test_the_log_pages_newest_first_and_filters_by_status(app_ctx, api, read_api, worker, receiver):
    receiver.answers = [Answer(status=200)]
    endpoint_id, _ = _endpoint(api, receiver)
    for _ in range(3):
        api.post(f"/webhooks/{endpoint_id}/test")
    first = read_api.get(f"/webhooks/{endpoint_id}/deliveries?limit=2").json
    assert len(first["data"]) == 2 and first["next_cursor"] == first["data"][1]["id"]
    rest = read_api.get(f"/webhooks/{endpoint_id}/deliveries?limit=2&after={first['next_cursor']}").json
    ids = [d["id"] for d in first["data"] + rest["data"]]
    assert rest["next_cursor"] is None and ids == sorted(ids, key=int, reverse=True) and len(ids) == 3
    deliver(worker)
    assert len(read_api.get(f"/webhooks/{endpoint_id}/deliveries?status=succeeded").json["data"]) == 3
    assert read_api.get(f"/webhooks/{endpoint_id}/deliveries?status=pending").json["data"] == []

    for query in ("status=lost", "after=abc", "limit=500", "colour=red"):
        answer = read_api.get(f"/webhooks/{endpoint_id}/deliveries?{query}")
        assert answer.status_code == 422, query
    assert read_api.get("/webhooks/nope/deliveries").status_code == 404


def test_a_delivery_sent_again_is_a_new_signed_attempt_with_the_same_webhook_id(
    app_ctx, api, read_api, worker, receiver
):
    endpoint_id, old_secret = _endpoint(api, receiver)
    api.post(f"/webhooks/{endpoint_id}/test")
    deliver(worker)
    [first] = read_api.get(f"/webhooks/{endpoint_id}/deliveries").json["data"]
    new_secret = api.post(f"/webhooks/{endpoint_id}/rotate").json["secret"]

    again = api.post(f"/webhooks/{endpoint_id}/deliveries/{first['id']}/resend")
    assert again.status_code == 202, again.json
    assert again.json["status"] == "pending" and again.json["id"] != first["id"]
    assert again.json["event_id"] == first["event_id"] and _audited("webhook.resent") == 1
    deliver(worker)
    arrived = receiver.wait_for(2)
    assert len(arrived) == 2 and arrived[1].headers["webhook-id"] == first["event_id"]
    assert Webhook(new_secret).verify(arrived[1].body, arrived[1].headers)["type"] == "webhook.test"
    assert Webhook(old_secret).verify(arrived[1].body, arrived[1].headers)  # the grace period: both sign
    shown = read_api.get(f"/webhooks/{endpoint_id}/deliveries/{again.json['id']}").json
    assert shown["status"] == "succeeded" and [a["status_code"] for a in shown["attempt_log"]] == [200]

    assert read_api.post(f"/webhooks/{endpoint_id}/deliveries/{first['id']}/resend").status_code == 403
    assert api.post(f"/webhooks/{endpoint_id}/deliveries/99999/resend").status_code == 404
    other_id, _ = _endpoint(api, receiver)
    assert read_api.get(f"/webhooks/{other_id}/deliveries/{first['id']}").status_code == 404
    assert api.post(f"/webhooks/{other_id}/deliveries/{first['id']}/resend").status_code == 404
    assert read_api.get(f"/webhooks/{endpoint_id}/deliveries/12x").status_code == 404


@pytest.mark.config(WEBHOOK_DISABLE_AFTER_FAILURES=3, WEBHOOK_DISABLE_AFTER_HOURS=0)
def test_an_endpoint_the_app_disabled_is_enabled_again_through_the_api(
    app_ctx, api, read_api, worker, receiver, smtp_server
):
    receiver.answers = [Answer(status=503, body=b"down for maintenance")]
    endpoint_id, secret = _endpoint(api, receiver)
    subscriber(create_list("News"), "ann@example.org", "Ann Example")
    db.session.commit()
    for _ in range(4):
        deliver(worker)
    disabled = read_api.get(f"/webhooks/{endpoint_id}").json
    assert disabled["active"] is False and "Disabled automatically after 3" in disabled["disabled_reason"]
    assert disabled["consecutive_failures"] == 3 and len(receiver.requests) == 3
    [waiting] = read_api.get(f"/webhooks/{endpoint_id}/deliveries").json["data"]
    assert (waiting["status"], waiting["response_excerpt"]) == ("pending", "down for maintenance")

    assert read_api.post(f"/webhooks/{endpoint_id}/enable").status_code == 403
    receiver.answers = [Answer(status=200)]
    enabled = api.post(f"/webhooks/{endpoint_id}/enable")
    assert enabled.status_code == 200, enabled.json
    assert (
        enabled.json["active"],
        enabled.json["consecutive_failures"],
        enabled.json["disabled_reason"],
    ) == (
        True,
        0,
        None,
    )
    assert _audited("webhook.enabled") == 1
    assert api.post(f"/webhooks/{endpoint_id}/enable").status_code == 409
    deliver(worker)
    arrived = receiver.wait_for(4)
    assert Webhook(secret).verify(arrived[3].body, arrived[3].headers)["type"] == "subscription.confirmed"
    [sent] = read_api.get(f"/webhooks/{endpoint_id}/deliveries").json["data"]
    assert (sent["status"], sent["attempts"]) == ("succeeded", 4)

    paused = api.post(f"/webhooks/{endpoint_id}/disable")
    assert (
        paused.status_code == 200
        and paused.json["active"] is False
        and paused.json["disabled_reason"] is None
    )
    assert api.post(f"/webhooks/{endpoint_id}/disable").status_code == 409
    assert _audited("webhook.disabled") == 1
