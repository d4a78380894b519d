"""Signed webhook deliveries to a real receiver: signatures, retries, disabling, personal data, durability."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from mailer.campaigns import lifecycle
from mailer.consent.ledger import RequestContext
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.privacy.erasure import erase_contact
from mailer.subscriptions.lists import create_list
from mailer.webhooks import operations, sending
from mailer.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.support.campaigns import make_campaign, subscriber
from tests.support.receiver import Answer
from tests.support.workers import drain
from tests.webhooks.helpers import (
    SETTINGS,
    attempts_of,
    deliver,
    deliveries_of,
    endpoint,
    payloads,
    processor,
    verified,
)

pytestmark = pytest.mark.config(**SETTINGS)


def _confirmed_subscriber(email="ann@example.org", name="Ann Example"):
    news = create_list("News")
    contact = subscriber(news, email, name)
    db.session.commit()
    return news, contact


def test_a_confirmed_subscription_arrives_signed_by_the_standard(app_ctx, worker, receiver):
    made, secret = endpoint(receiver, ["subscription.confirmed", "consent.granted"])
    news, contact = _confirmed_subscriber()
    deliver(worker)

    arrived = receiver.wait_for(2)
    assert len(arrived) == 2
    kinds = set()
    for request in arrived:
        payload = verified(request, secret)  # webhook-id, webhook-timestamp and webhook-signature checked
        kinds.add(payload["type"])
        assert request.headers["content-type"] == "application/json"
        assert request.headers["webhook-id"].startswith("msg_")
        assert payload["data"]["contact"] == {"id": contact.public_id, "status": "active"}
        assert payload["data"]["purpose"]["key"] == news.purpose.key
    assert kinds == {"subscription.confirmed", "consent.granted"}
    confirmed = next(p for p in payloads(receiver) if p["type"] == "subscription.confirmed")
    assert confirmed["data"]["list"] == {"id": news.public_id, "name": "News"}
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(operations.signing.new_secret()).verify(arrived[0].body, arrived[0].headers)
    assert [d.status for d in deliveries_of(made)] == ["succeeded", "succeeded"]
    assert attempts_of(deliveries_of(made)[0])[0].status_code == 200


def test_an_endpoint_gets_only_the_events_it_chose(app_ctx, worker, receiver):
    endpoint(receiver, ["campaign.started"])
    _confirmed_subscriber()
    deliver(worker)
    assert receiver.requests == []
    assert db.session.execute(select(func.count()).select_from(WebhookEvent)).scalar_one() == 0


def test_a_receiver_answering_500_sees_the_same_event_again_until_it_succeeds(app_ctx, worker, receiver):
    receiver.answers = [
        Answer(status=500, body=b"down"),
        Answer(status=503, body=b"busy"),
        Answer(status=204),
    ]
    made, secret = endpoint(receiver, ["subscription.confirmed"])
    _confirmed_subscriber()
    for _ in range(3):
        deliver(worker)

    arrived = receiver.wait_for(3)
    assert len(arrived) == 3
    assert len({request.headers["webhook-id"] for request in arrived}) == 1  # one event, three tries
    for request in arrived:
        verified(request, secret)
    [delivery] = deliveries_of(made)
    assert (delivery.status, delivery.attempts) == ("succeeded", 3)
    log = [(a.status_code, a.response_excerpt, a.error) for a in attempts_of(delivery)]
    assert log == [
        (500, "down", "The endpoint answered 500."),
        (503, "busy", "The endpoint answered 503."),
        (204, "", ""),
    ]
    endpoint_row = db.session.get(WebhookEndpoint, made.id)
    assert (endpoint_row.consecutive_failures, endpoint_row.failing_since) == (0, None)


def test_the_retry_schedule_waits_before_each_retry(app, app_ctx, worker, receiver):
    app.config["WEBHOOK_RETRY_SCHEDULE"] = "300,1800"
    receiver.answers = [Answer(status=500)]
    made, _ = endpoint(receiver, ["subscription.confirmed"])
    _confirmed_subscriber()
    deliver(worker)
    [delivery] = deliveries_of(made)
    assert delivery.status == "pending"
    assert timedelta(seconds=290) < delivery.next_attempt_at - utcnow() <= timedelta(seconds=300)
    deliver(worker)  # not due yet: nothing is sent
    assert len(receiver.requests) == 1
    sending.dispatch_due(now=utcnow() + timedelta(seconds=301))
    worker.drain()
    db.session.expire_all()
    sending.dispatch_due(now=utcnow() + timedelta(seconds=2200))
    worker.drain()
    db.session.expire_all()
    [delivery] = deliveries_of(made)
    assert (delivery.status, delivery.attempts, len(receiver.requests)) == ("failed", 3, 3)


@pytest.mark.config(WEBHOOK_DISABLE_AFTER_FAILURES=3, WEBHOOK_DISABLE_AFTER_HOURS=0)
def test_an_endpoint_failing_again_and_again_is_disabled_and_owners_are_told(
    app_ctx, worker, receiver, smtp_server, staff_user
):
    receiver.answers = [Answer(status=500, body=b"Internal Server Error")]
    made, _ = endpoint(receiver, ["subscription.confirmed"])
    _confirmed_subscriber()
    for _ in range(4):
        deliver(worker)

    endpoint_row = db.session.get(WebhookEndpoint, made.id)
    assert endpoint_row.active is False
    assert "Disabled automatically after 3" in endpoint_row.disabled_reason
    assert len(receiver.requests) == 3  # nothing more once disabled
    [delivery] = deliveries_of(made)
    assert delivery.status == "pending"  # waits for the endpoint to be enabled again
    [alert] = smtp_server.to("owner@example.com")
    assert alert.message["Subject"] == "A webhook endpoint was disabled after repeated failures"
    assert receiver.url("/hook") in alert.message.get_body(("plain",)).get_content()

    receiver.answers = [Answer(status=200)]
    receiver.requests.clear()
    operations.set_active(endpoint_row, True)
    db.session.commit()
    deliver(worker)
    assert len(receiver.requests) == 1  # the waiting delivery goes out once enabled
    assert deliveries_of(made)[0].status == "succeeded"


def test_personal_data_only_for_an_endpoint_declared_as_processor(app_ctx, worker, receiver):
    endpoint(receiver, ["subscription.confirmed"], path="/plain")
    endpoint(receiver, ["subscription.confirmed"], path="/crm", processor=processor())
    _news, contact = _confirmed_subscriber("bea@example.org", "Bea Private")
    deliver(worker)
    receiver.wait_for(2)

    [plain] = [r for r in receiver.requests if r.path == "/plain"]
    [_crm] = [r for r in receiver.requests if r.path == "/crm"]
    assert b"bea@example.org" not in plain.body and b"Bea" not in plain.body
    assert payloads(receiver, "/plain")[0]["data"]["contact"] == {"id": contact.public_id, "status": "active"}
    described = payloads(receiver, "/crm")[0]["data"]["contact"]
    assert (described["email"], described["name"], described["id"]) == (
        "bea@example.org",
        "Bea Private",
        contact.public_id,
    )


def test_an_erasure_is_announced_with_ids_only_even_to_a_processor(app_ctx, worker, receiver):
    _made, secret = endpoint(receiver, ["contact.erased"], processor=processor())
    _news, contact = _confirmed_subscriber("cat@example.org", "Cat Gone")
    erase_contact(contact, RequestContext("admin"))
    db.session.commit()
    deliver(worker)

    [request] = receiver.wait_for(1)
    payload = verified(request, secret)
    assert payload["type"] == "contact.erased"
    assert payload["data"] == {"contact": {"id": contact.public_id, "status": "erased"}}
    assert b"cat@example.org" not in request.body and b"Cat" not in request.body


def test_events_of_a_change_that_rolls_back_are_never_sent(app_ctx, worker, receiver):
    endpoint(receiver, ["campaign.started"])
    news, _ = _confirmed_subscriber()
    campaign = make_campaign([news])
    db.session.commit()
    lifecycle.start_campaign(campaign)  # announces campaign.started in its transaction…
    db.session.rollback()  # …which does not happen
    deliver(worker)
    assert receiver.requests == []
    assert db.session.execute(select(func.count()).select_from(WebhookEvent)).scalar_one() == 0


def test_a_campaign_announces_its_start_and_its_end(app_ctx, worker, receiver):
    _made, secret = endpoint(receiver, ["campaign.started", "campaign.finished"])
    news, _ = _confirmed_subscriber()
    campaign = make_campaign([news])
    db.session.commit()
    lifecycle.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    deliver(worker)
    types = [verified(request, secret)["type"] for request in receiver.wait_for(2)]
    assert sorted(types) == ["campaign.finished", "campaign.started"]
    assert payloads(receiver)[0]["data"]["campaign"]["id"] == campaign.public_id


def test_a_delivery_a_dead_worker_left_claimed_goes_out_later(app, app_ctx, receiver):
    made, secret = endpoint(receiver, ["subscription.confirmed"])
    _confirmed_subscriber()
    sending.scan_ledger()
    db.session.commit()
    [delivery] = deliveries_of(made)
    # As if a worker had claimed it and died before sending: the claim is stale after the timeout.
    delivery.status, delivery.claimed_at = "sending", utcnow() - timedelta(minutes=5)
    db.session.commit()
    workers = app.extensions["mailer.workers"]
    workers.start_worker(threads=2)  # a new worker: the dispatcher's message queued at the commit runs now
    try:
        drain(app)
    finally:
        workers.stop_worker()
    db.session.expire_all()
    [request] = receiver.wait_for(1)
    verified(request, secret)
    assert deliveries_of(made)[0].status == "succeeded"


def test_a_contact_edit_is_announced_with_what_changed_but_not_the_values(app_ctx, worker, receiver):
    endpoint(receiver, ["contact.updated"])
    _news, contact = _confirmed_subscriber("dan@example.org", "Dan Old")
    contact.name = "Dan New"
    db.session.commit()
    deliver(worker)
    [payload] = [p for p in payloads(receiver) if p["type"] == "contact.updated"]
    assert payload["data"]["fields"] == ["name"]
    assert "Dan" not in str(payload)


def test_rotation_signs_with_both_secrets_during_the_grace_period(app_ctx, worker, receiver):
    made, old_secret = endpoint(receiver, ["subscription.confirmed"])
    new_secret = operations.rotate_secret(made)
    db.session.commit()
    assert new_secret.startswith("whsec_") and new_secret != old_secret
    _confirmed_subscriber()
    deliver(worker)
    [request] = receiver.wait_for(1)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    verified(request, old_secret)
    verified(request, new_secret)

    endpoint_row = db.session.get(WebhookEndpoint, made.id)
    endpoint_row.previous_secret_expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    operations.send_test_event(endpoint_row)
    db.session.commit()
    deliver(worker)
    test_request = receiver.wait_for(2)[1]
    assert verified(test_request, new_secret)["type"] == "webhook.test"
    with pytest.raises(Exception, match="No matching signature"):
        verified(test_request, old_secret)


def test_a_delivery_can_be_sent_again_by_hand(app_ctx, worker, receiver):
    made, _secret = endpoint(receiver, ["subscription.confirmed"])
    _confirmed_subscriber()
    deliver(worker)
    [first] = deliveries_of(made)
    again = operations.resend_delivery(first)
    db.session.commit()
    deliver(worker)
    arrived = receiver.wait_for(2)
    assert arrived[0].headers["webhook-id"] == arrived[1].headers["webhook-id"]
    assert db.session.get(WebhookDelivery, again.id).status == "succeeded"
