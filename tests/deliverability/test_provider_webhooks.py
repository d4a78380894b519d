"""Provider event webhooks end to end: signed sample events of SES (via SNS), SendGrid, Postmark and Mailgun,
about a campaign the engine really sent, suppress and count exactly as DSNs and ARF reports do; unsigned,
badly signed, stale, oversized and malformed requests change nothing; replays are acknowledged and ignored."""

import json
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from mailer import create_app
from mailer.campaigns.models import Campaign
from mailer.consent.models import ConsentEvent
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.deliverability import provider_batch, provider_events, provider_ses
from mailer.deliverability.bounces import purge_bounce_log
from mailer.deliverability.models import ProviderEventReceipt
from mailer.deliverability.provider_events import process_all_pending
from mailer.subscriptions.lists import create_list, ensure_tracking_purposes
from mailer.subscriptions.models.lists import Subscription
from tests.deliverability import provider_signing as signing
from tests.deliverability.bounce_support import (
    campaign_left_sending,
    delivery_state,
    events,
    send_campaign,
    subscribers,
    suppression_reason,
)
from tests.support.proxy import app_config_from_environment

pytestmark = pytest.mark.config(**signing.CONFIG)
SES, SENDGRID, POSTMARK, MAILGUN = (
    f"/hooks/providers/{name}" for name in ("ses", "sendgrid", "postmark", "mailgun")
)


@pytest.fixture
def news(app_ctx):
    ensure_tracking_purposes()
    mailing_list = create_list("News")
    db.session.commit()
    return mailing_list


@pytest.fixture
def sns_fetches(monkeypatch):
    """The outside world: Amazon's certificate and subscription endpoints (every URL asked is recorded)."""
    asked: list[str] = []

    def fetch(url: str, limit: int) -> bytes:
        asked.append(url)
        return signing.SNS_CERT_PEM if url == signing.CERT_URL else b"<ConfirmSubscriptionResponse/>"

    monkeypatch.setattr(provider_ses, "_certs", {})
    monkeypatch.setattr(provider_ses, "fetch_https", fetch)
    return asked


@pytest.fixture
def sent(app, news, worker):
    """ann, bob and cy subscribed to News and sent a campaign; their deliveries by address."""
    subscribers(news, "ann@example.net", "bob@example.net", "cy@example.net")
    _campaign, deliveries = send_campaign(worker, news)
    return deliveries


@pytest.fixture
def acted(worker):
    """Drain the real worker, then the outcomes of the receipts it acted on since the last call: what the
    request's response said at once before events were stored first and acted on by the worker."""
    seen = [0]

    def outcomes() -> dict[str, int]:
        worker.drain()
        db.session.expire_all()
        rows = db.session.execute(
            select(ProviderEventReceipt.id, ProviderEventReceipt.outcome, ProviderEventReceipt.payload)
            .where(ProviderEventReceipt.id > seen[0])
            .order_by(ProviderEventReceipt.id)
        ).all()
        assert all(row.payload is None for row in rows)  # the worker keeps no event payload
        seen[0] = max([seen[0], *(row.id for row in rows)])
        return dict(Counter(row.outcome for row in rows))

    return outcomes


def _post_json(client, url, payload, **kwargs):
    return client.post(url, data=json.dumps(payload), content_type="application/json", **kwargs)


def _sendgrid(client, items, **header_args):
    body = json.dumps(items).encode()
    return client.post(SENDGRID, data=body, headers=signing.sendgrid_headers(body, **header_args))


def _receipts() -> int:
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(ProviderEventReceipt)).scalar_one()


def _nothing_written() -> bool:
    return _receipts() == 0 and events() == []


def _status(contact, mailing_list) -> str:
    db.session.expire_all()
    return db.session.execute(
        select(Subscription.status).where(
            Subscription.contact_id == contact.id, Subscription.list_id == mailing_list.id
        )
    ).scalar()


# --- Amazon SES via SNS ---


def test_ses_hard_bounce_suppresses_the_address_like_a_dsn(client, sent, sns_fetches, acted):
    ann = sent["ann@example.net"]
    message = signing.sns_notification(signing.ses_bounce(ann.message_id, "ann@example.net"), version="1")

    response = _post_json(client, SES, message)

    assert response.status_code == 200, response.text
    assert response.json["events"] == {"accepted": 1}
    assert acted() == {"recorded": 1}
    [event] = events()
    assert (event.kind, event.status_code, event.source, event.action_taken) == (
        "hard",
        "5.1.1",
        "ses",
        "suppressed",
    )
    assert event.delivery_id == ann.id and "[address]" not in event.reporter
    assert suppression_reason(ann.contact) == "hard_bounce"
    assert suppression_reason(sent["bob@example.net"].contact) is None
    assert delivery_state(ann.id).status == "bounced"
    assert sns_fetches == [signing.CERT_URL]


def test_ses_complaint_with_signature_version_2_withdraws_consent(client, sent, news, sns_fetches, acted):
    bob = sent["bob@example.net"]
    message = signing.sns_notification(signing.ses_complaint(bob.message_id, "bob@example.net"), version="2")

    response = _post_json(client, SES, message)

    assert response.status_code == 200 and response.json["events"] == {"accepted": 1}
    assert acted() == {"recorded": 1}
    [event] = events()
    assert (event.kind, event.source, event.status_code) == ("complaint", "ses", "abuse")
    assert suppression_reason(bob.contact) == "complaint"
    assert _status(bob.contact, news) == "unsubscribed"


def test_ses_mailbox_full_is_soft_and_policy_refusal_blames_nobody(client, sent, sns_fetches, acted):
    ann, bob = sent["ann@example.net"], sent["bob@example.net"]
    full = signing.ses_bounce(ann.message_id, "ann@example.net", "Transient", "MailboxFull", "5.2.2")
    policy = signing.ses_bounce(bob.message_id, "bob@example.net", status="5.7.1")

    assert _post_json(client, SES, signing.sns_notification(full)).status_code == 200
    assert _post_json(client, SES, signing.sns_notification(policy)).status_code == 200
    assert acted() == {"recorded": 2}

    assert [(e.kind, e.status_code, e.action_taken) for e in events()] == [
        ("soft", "5.2.2", "counted"),
        ("policy", "5.7.1", "operator_alert"),
    ]
    assert suppression_reason(ann.contact) is None and suppression_reason(bob.contact) is None


def test_ses_subscription_confirmation_visits_the_subscribe_url(client, app_ctx, sns_fetches):
    response = _post_json(client, SES, signing.sns_subscription())

    assert response.status_code == 200 and response.json["detail"] == "subscription confirmed"
    assert sns_fetches == [signing.CERT_URL, signing.SUBSCRIBE_URL]


def test_ses_subscribe_url_off_amazon_is_not_visited(client, app_ctx, sns_fetches):
    response = _post_json(client, SES, signing.sns_subscription("https://attacker.example/confirm"))

    assert response.status_code == 403 and "SubscribeURL" in response.json["error"]
    assert sns_fetches == [signing.CERT_URL]


def test_ses_refuses_bad_signature_foreign_topic_cert_host_unsigned_and_stale(client, sent, sns_fetches):
    ann = sent["ann@example.net"]
    body = signing.ses_bounce(ann.message_id, "ann@example.net")
    forged = signing.sns_notification(body)
    forged["Message"] = forged["Message"].replace("5.1.1", "5.1.2")
    foreign = signing.sns_notification(body, topic="arn:aws:sns:eu-west-1:999999999999:someone-else")
    off_host = {**signing.sns_notification(body), "SigningCertURL": "https://sns.evil.example.com/cert.pem"}
    unsigned = {k: v for k, v in signing.sns_notification(body).items() if k != "Signature"}
    stale = signing.sns_notification(body, age=3600)

    answers = [_post_json(client, SES, m) for m in (forged, foreign, off_host, unsigned, stale)]

    assert [a.status_code for a in answers] == [403, 403, 403, 401, 403]
    assert "does not verify" in answers[0].json["error"]
    assert "SES_SNS_TOPIC_ARNS" in answers[1].json["error"]
    assert "amazonaws.com" in answers[2].json["error"]
    assert "stale" in answers[4].json["error"]
    assert _nothing_written() and suppression_reason(ann.contact) is None
    assert "https://sns.evil.example.com/cert.pem" not in sns_fetches


# --- SendGrid ---


def test_sendgrid_batch_of_events(client, sent, news, acted):
    ann, bob, cy = sent["ann@example.net"], sent["bob@example.net"], sent["cy@example.net"]
    items = [
        signing.sendgrid_event(
            "bounce",
            ann.message_id,
            "ann@example.net",
            status="5.1.1",
            reason="550 5.1.1 no such user",
            type="bounce",
        ),
        signing.sendgrid_event("spamreport", bob.message_id, "bob@example.net"),
        signing.sendgrid_event("delivered", cy.message_id, "cy@example.net", response="250 OK"),
        signing.sendgrid_event("unsubscribe", cy.message_id, "cy@example.net"),
        signing.sendgrid_event("open", cy.message_id, "cy@example.net"),
    ]

    response = _sendgrid(client, items)

    assert response.status_code == 200, response.text
    assert response.json["events"] == {"accepted": 5}
    assert acted() == {"recorded": 3, "ignored": 2}
    assert [(e.kind, e.source, e.delivery_id) for e in events()] == [
        ("hard", "sendgrid", ann.id),
        ("complaint", "sendgrid", bob.id),
    ]
    assert suppression_reason(ann.contact) == "hard_bounce" and suppression_reason(bob.contact) == "complaint"
    # The unsubscribe left the message's list through the one-click rule: consent withdrawn in the ledger.
    assert _status(cy.contact, news) == "unsubscribed" and suppression_reason(cy.contact) is None
    db.session.expire_all()
    withdrawal = db.session.execute(
        select(ConsentEvent).where(
            ConsentEvent.contact_id == cy.contact_id, ConsentEvent.action == "withdrawn"
        )
    ).scalar_one()
    assert withdrawal.source == "provider:sendgrid"


def test_sendgrid_refuses_unsigned_forged_and_stale_and_ignores_replays(client, sent, acted):
    ann = sent["ann@example.net"]
    items = [signing.sendgrid_event("bounce", ann.message_id, "ann@example.net", status="5.1.1")]
    body = json.dumps(items).encode()
    other_key = signing.ec.generate_private_key(signing.ec.SECP256R1())

    unsigned = client.post(SENDGRID, data=body, content_type="application/json")
    forged = client.post(SENDGRID, data=body, headers=signing.sendgrid_headers(body, key=other_key))
    tampered = client.post(
        SENDGRID, data=body.replace(b"5.1.1", b"5.2.2"), headers=signing.sendgrid_headers(body)
    )
    stale = client.post(SENDGRID, data=body, headers=signing.sendgrid_headers(body, age=3600))

    assert [r.status_code for r in (unsigned, forged, tampered, stale)] == [401, 403, 403, 403]
    assert "not signed" in unsigned.json["error"] and "stale" in stale.json["error"]
    assert _nothing_written()

    first = client.post(SENDGRID, data=body, headers=signing.sendgrid_headers(body))
    replay = client.post(SENDGRID, data=body, headers=signing.sendgrid_headers(body))
    assert first.json["events"] == {"accepted": 1} and replay.json["events"] == {"duplicate": 1}
    assert acted() == {"recorded": 1}
    assert len(events()) == 1 and _receipts() == 1


def test_malformed_json_and_oversized_bodies_are_refused(client, app_ctx):
    garbage = b'[{"event": "bounce",'
    malformed = client.post(SENDGRID, data=garbage, headers=signing.sendgrid_headers(garbage))
    huge = b"[" + b" " * (1024 * 1024) + b"]"
    oversized = client.post(SENDGRID, data=huge, headers=signing.sendgrid_headers(huge))

    # Above the pages' 256 KiB cap but within PROVIDER_WEBHOOK_MAX_BYTES: read (an empty batch here).
    large = b"[" + b" " * (512 * 1024) + b"]"
    accepted = client.post(SENDGRID, data=large, headers=signing.sendgrid_headers(large))

    assert accepted.status_code == 200 and accepted.json["detail"] == "no events"
    assert malformed.status_code == 400 and "not valid JSON" in malformed.json["error"]
    assert oversized.status_code == 413 and "larger than" in oversized.json["error"]
    assert _nothing_written()


def test_text_no_database_can_store_is_a_clear_400_not_a_500(client, sent, sns_fetches):
    """PostgreSQL refuses a NUL and a lone UTF-16 surrogate in text: a signed body carrying either is refused
    up front (400, nothing written), while a proper surrogate pair (an emoji) is fine."""
    ann = sent["ann@example.net"]
    item = signing.sendgrid_event("bounce", ann.message_id, "ann@example.net", status="5.1.1")
    refused = []
    for escape in ("\\u0000", "\\ud83d"):
        body = json.dumps([item]).replace('"5.1.1"', f'"5.1.1{escape}"').encode()
        refused.append(client.post(SENDGRID, data=body, headers=signing.sendgrid_headers(body)))
    inner = json.dumps(signing.ses_bounce(ann.message_id, "ann@example.net")).replace('"5.1.1"', '"5\\u0000"')
    fields = ("Type", "MessageId", "TopicArn", "Timestamp")
    message = {k: v for k, v in signing.sns_notification({}).items() if k in fields}
    refused.append(_post_json(client, SES, signing.sns_sign({**message, "Message": inner}, "1")))
    assert [r.status_code for r in refused] == [400, 400, 400], [r.text for r in refused]
    assert all("NUL character or a broken UTF-16 escape" in r.json["error"] for r in refused)
    assert _nothing_written()
    emoji = json.dumps([item]).replace('"5.1.1"', '"5.1.1 \\ud83d\\ude00"').encode()
    assert client.post(SENDGRID, data=emoji, headers=signing.sendgrid_headers(emoji)).status_code == 200


# --- Postmark ---


def test_postmark_hard_bounce_is_matched_by_address(client, sent, acted):
    cy = sent["cy@example.net"]
    payload = signing.postmark_bounce("Cy@Example.net")

    response = _post_json(client, POSTMARK, payload, headers={"X-Webhook-Token": signing.POSTMARK_TOKEN})

    assert response.status_code == 200 and response.json["events"] == {"accepted": 1}
    assert acted() == {"recorded": 1}
    [event] = events()
    assert (event.kind, event.status_code, event.source, event.delivery_id) == (
        "hard",
        "5.1.1",
        "postmark",
        cy.id,
    )
    assert suppression_reason(cy.contact) == "hard_bounce"
    replay = _post_json(client, POSTMARK, payload, headers={"X-Webhook-Token": signing.POSTMARK_TOKEN})
    assert replay.json["events"] == {"duplicate": 1} and acted() == {} and len(events()) == 1


def test_postmark_refuses_missing_and_wrong_token(client, sent):
    payload = signing.postmark_bounce("cy@example.net")

    missing = _post_json(client, POSTMARK, payload)
    wrong = _post_json(client, POSTMARK + "?token=guess", payload)

    assert (missing.status_code, wrong.status_code) == (401, 403)
    assert _nothing_written()


@pytest.mark.config(
    POSTMARK_WEBHOOK_TOKEN="", POSTMARK_WEBHOOK_USERNAME="postmark", POSTMARK_WEBHOOK_PASSWORD="s3cret-pw"
)
def test_postmark_basic_auth(client, sent, acted):
    payload = signing.postmark_bounce("ann@example.net", "SoftBounce", "Mailbox temporarily unavailable")

    wrong = _post_json(client, POSTMARK, payload, auth=("postmark", "nope"))
    right = _post_json(client, POSTMARK, payload, auth=("postmark", "s3cret-pw"))

    assert wrong.status_code == 403 and right.status_code == 200
    assert acted() == {"recorded": 1}
    [event] = events()
    assert (event.kind, event.status_code, event.action_taken) == ("soft", "4.0.0", "counted")


# --- Mailgun ---


def test_mailgun_permanent_failure_suppresses_and_temporary_waits(client, sent, acted):
    ann, bob = sent["ann@example.net"], sent["bob@example.net"]
    temporary = signing.mailgun_payload(
        signing.mailgun_failed(bob.message_id, "bob@example.net", "temporary", 452, "4.2.2 over quota")
    )
    permanent = signing.mailgun_payload(signing.mailgun_failed(ann.message_id, "ann@example.net"))

    assert _post_json(client, MAILGUN, temporary).json["events"] == {"accepted": 1}
    assert acted() == {"ignored": 1}
    assert _post_json(client, MAILGUN, permanent).json["events"] == {"accepted": 1}
    assert acted() == {"recorded": 1}

    [event] = events()
    assert (event.kind, event.status_code, event.source, event.delivery_id) == (
        "hard",
        "5.1.1",
        "mailgun",
        ann.id,
    )
    assert suppression_reason(ann.contact) == "hard_bounce" and suppression_reason(bob.contact) is None


def test_mailgun_refuses_forged_stale_unsigned_and_ignores_a_replayed_token(client, sent, acted):
    ann = sent["ann@example.net"]
    data = signing.mailgun_failed(ann.message_id, "ann@example.net")

    forged = _post_json(client, MAILGUN, signing.mailgun_payload(data, key="key-wrong"))
    stale = _post_json(client, MAILGUN, signing.mailgun_payload(data, age=3600))
    unsigned = _post_json(client, MAILGUN, {"event-data": data})
    assert [r.status_code for r in (forged, stale, unsigned)] == [403, 403, 401]
    assert _nothing_written()

    signed = signing.mailgun_payload(data)
    assert _post_json(client, MAILGUN, signed).json["events"] == {"accepted": 1}
    assert acted() == {"recorded": 1}
    assert _post_json(client, MAILGUN, signed).json["events"] == {"duplicate": 1}
    assert acted() == {}
    assert len(events()) == 1


# --- configuration ---


@pytest.mark.config(MAILGUN_WEBHOOK_SIGNING_KEY="")
def test_an_unconfigured_or_unknown_provider_answers_404(client, app_ctx):
    unconfigured = _post_json(client, MAILGUN, {"signature": {}})
    unknown = _post_json(client, "/hooks/providers/acme", {})

    assert unconfigured.status_code == 404 and "not configured" in unconfigured.json["error"]
    assert unknown.status_code == 404 and _nothing_written()


def test_provider_settings_come_from_the_environment(monkeypatch, database_url):
    app_config_from_environment(
        monkeypatch,
        SES_SNS_TOPIC_ARNS=f"{signing.TOPIC}, arn:aws:sns:us-east-1:1:other",
        SENDGRID_WEBHOOK_PUBLIC_KEY=signing.SENDGRID_PUBLIC,
        POSTMARK_WEBHOOK_TOKEN="tok",
        MAILGUN_WEBHOOK_SIGNING_KEY="key-1",
        PROVIDER_WEBHOOK_MAX_AGE_SECONDS="120",
        PROVIDER_WEBHOOK_MAX_BYTES="2048",
        PROVIDER_WEBHOOK_RATE_LIMIT="10 per second",
    )
    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": database_url})
    config = app.config
    assert config["SES_SNS_TOPIC_ARNS"] == [signing.TOPIC, "arn:aws:sns:us-east-1:1:other"]
    assert (config["SENDGRID_WEBHOOK_PUBLIC_KEY"], config["POSTMARK_WEBHOOK_TOKEN"]) == (
        signing.SENDGRID_PUBLIC,
        "tok",
    )
    assert config["MAILGUN_WEBHOOK_SIGNING_KEY"] == "key-1"
    assert (config["PROVIDER_WEBHOOK_MAX_AGE_SECONDS"], config["PROVIDER_WEBHOOK_MAX_BYTES"]) == (120, 2048)
    assert config["PROVIDER_WEBHOOK_RATE_LIMIT"] == "10 per second"
    app.extensions["mailer.workers"].broker.close()


def test_deliverability_page_shows_providers_endpoints_and_last_event(auth, sent, acted):
    page = auth.get("/admin/deliverability")
    assert page.status_code == 200
    assert "Provider event webhooks" in page.text
    assert (
        "http://127.0.0.1:5000/hooks/providers/sendgrid" in page.text
        or "/hooks/providers/sendgrid" in page.text
    )
    assert page.text.count("Configured") >= 4

    ann = sent["ann@example.net"]
    _sendgrid(auth, [signing.sendgrid_event("delivered", ann.message_id, "ann@example.net")])
    assert acted() == {"ignored": 1}
    page = auth.get("/admin/deliverability")
    assert "(1 event in all)" in page.text


def test_receipts_older_than_the_bounce_log_go_with_it(client, sent, acted):
    ann = sent["ann@example.net"]
    first = signing.mailgun_payload(signing.mailgun_failed(ann.message_id, "ann@example.net"))
    assert _post_json(client, MAILGUN, first).status_code == 200
    assert acted() == {"recorded": 1}
    db.session.execute(update(ProviderEventReceipt).values(received_at=utcnow() - timedelta(days=400)))
    db.session.commit()
    later = signing.mailgun_payload(signing.mailgun_failed(ann.message_id, "ann@example.net"))
    assert _post_json(client, MAILGUN, later).status_code == 200
    assert acted() == {"duplicate": 1}  # the same delivery's hard bounce is already logged

    purge_bounce_log()

    db.session.expire_all()
    assert _receipts() == 1


@pytest.mark.config(COMPLAINT_RATE_MIN_VOLUME=1)
def test_a_mailgun_complaint_pauses_the_domains_sending_campaigns_as_an_arf_report_does(
    app, client, sent, news
):
    ann = sent["ann@example.net"]
    summer = campaign_left_sending(app, news, "Summer")
    complained = {
        "event": "complained",
        "id": "mailgun-complaint-1",
        "timestamp": 1,
        "recipient": "ann@example.net",
        "message": {"headers": {"message-id": ann.message_id.strip("<>")}},
    }

    response = _post_json(client, MAILGUN, signing.mailgun_payload(complained))

    assert response.status_code == 200 and response.json["events"] == {"accepted": 1}
    # The worker is stopped (so Summer stays "sending"): the operation its job runs, called here.
    assert process_all_pending().counts == {"recorded": 1}
    [event] = events()
    assert (event.kind, event.source, event.delivery_id) == ("complaint", "mailgun", ann.id)
    assert suppression_reason(ann.contact) == "complaint" and _status(ann.contact, news) == "unsubscribed"
    db.session.expire_all()
    campaign = db.session.get(Campaign, summer.id)
    assert (
        campaign.status == "paused"
        and "spam complaint(s) about mail from example.com" in campaign.status_reason
    )


def test_postmark_spam_complaint_suppresses_and_withdraws(client, sent, news, acted):
    bob = sent["bob@example.net"]
    payload = {
        "RecordType": "SpamComplaint",
        "ID": 4242,
        "Type": "SpamComplaint",
        "Email": "bob@example.net",
        "MessageID": "00000000-0000-0000-0000-000000000000",
        "Details": "Test spam complaint details",
        "BouncedAt": signing.iso_now(),
    }

    response = _post_json(client, POSTMARK, payload, headers={"X-Webhook-Token": signing.POSTMARK_TOKEN})

    assert response.status_code == 200 and response.json["events"] == {"accepted": 1}
    assert acted() == {"recorded": 1}
    [event] = events()
    assert (event.kind, event.source, event.delivery_id) == ("complaint", "postmark", bob.id)
    assert suppression_reason(bob.contact) == "complaint" and _status(bob.contact, news) == "unsubscribed"


# --- stored first, acted on by the worker ---


class WorkerDied(BaseException):
    """The worker process dying mid-batch (not an error anything catches)."""


def _outcomes() -> dict[str, int]:
    db.session.expire_all()
    rows = db.session.execute(
        select(ProviderEventReceipt.outcome, func.count()).group_by(ProviderEventReceipt.outcome)
    ).all()
    return {str(outcome): int(count) for outcome, count in rows}


def test_a_worker_that_dies_mid_batch_leaves_the_events_pending_and_they_are_acted_on_exactly_once(
    app, client, sent, news, acted, monkeypatch
):
    ann, bob = sent["ann@example.net"], sent["bob@example.net"]
    workers = app.extensions["mailer.workers"]
    workers.stop_worker()  # no worker is running when the events arrive
    items = [
        signing.sendgrid_event("bounce", ann.message_id, "ann@example.net", status="5.1.1", type="bounce"),
        signing.sendgrid_event("spamreport", bob.message_id, "bob@example.net"),
    ]

    response = _sendgrid(client, items)

    assert response.status_code == 200 and response.json["events"] == {"accepted": 2}
    assert _outcomes() == {"pending": 2} and events() == []

    # A worker takes the batch, acts on both events (bounce log, suppressions, ledger, all in its
    # transaction), then dies before its transaction commits.
    apply = provider_batch.apply_batch
    seen: list[str] = []

    def apply_then_die(items):
        apply(items)
        seen.extend(item.event.kind for item in items)
        raise WorkerDied

    monkeypatch.setattr(provider_batch, "apply_batch", apply_then_die)
    with pytest.raises(WorkerDied):
        provider_events.process_pending()
    db.session.rollback()  # its connection is gone: the database aborts the transaction
    monkeypatch.setattr(provider_batch, "apply_batch", apply)
    assert seen == ["bounce", "complaint"]
    assert _outcomes() == {"pending": 2} and events() == []
    assert suppression_reason(ann.contact) is None and suppression_reason(bob.contact) is None

    # The request's job (still queued) runs on a worker started again: both events, once each.
    workers.start_worker(threads=2)
    assert acted() == {"recorded": 2}
    assert sorted((e.kind, e.delivery_id) for e in events()) == [("complaint", bob.id), ("hard", ann.id)]
    assert suppression_reason(ann.contact) == "hard_bounce" and suppression_reason(bob.contact) == "complaint"
    assert _status(bob.contact, news) == "unsubscribed"

    # The scheduler's sweep and a provider's retry of the same request change nothing more.
    workers.actors["process_provider_events"].send()
    retry = _sendgrid(client, items)
    assert retry.json["events"] == {"duplicate": 2} and acted() == {}
    assert len(events()) == 2 and _outcomes() == {"recorded": 2}


def test_events_wait_for_a_worker_and_are_acted_on_in_the_order_they_arrived(client, sent, acted):
    ann = sent["ann@example.net"]
    soft = signing.sendgrid_event("bounce", ann.message_id, "ann@example.net", status="5.2.2", type="bounce")
    hard = signing.sendgrid_event("bounce", ann.message_id, "ann@example.net", status="5.1.1", type="bounce")

    first, second = _sendgrid(client, [soft]), _sendgrid(client, [hard])

    assert first.json["events"] == second.json["events"] == {"accepted": 1}
    assert acted() == {"recorded": 2}
    assert [(e.kind, e.status_code) for e in events()] == [("soft", "5.2.2"), ("hard", "5.1.1")]
    assert suppression_reason(ann.contact) == "hard_bounce"


@pytest.mark.postgres_only
def test_two_workers_act_one_after_the_other_so_a_later_event_never_overtakes(app, client, sent, monkeypatch):
    """Two workers started by two requests: the second waits for the first to commit instead of taking the
    next receipt past it (with SKIP LOCKED alone it took the hard bounce and could commit it first)."""
    ann = sent["ann@example.net"]
    app.extensions["mailer.workers"].stop_worker()  # the two workers are this test's threads
    soft = signing.sendgrid_event("bounce", ann.message_id, "ann@example.net", status="5.2.2", type="bounce")
    hard = signing.sendgrid_event("bounce", ann.message_id, "ann@example.net", status="5.1.1", type="bounce")
    assert _sendgrid(client, [soft]).json["events"] == {"accepted": 1}
    first_in, release = threading.Event(), threading.Event()
    apply = provider_batch.apply_batch

    def apply_held_in_the_first(items):
        apply(items)
        if threading.current_thread().name == "first":
            first_in.set()
            assert release.wait(30)

    monkeypatch.setattr(provider_batch, "apply_batch", apply_held_in_the_first)
    failures: list[BaseException] = []

    def work(limit: int) -> None:
        with app.app_context():
            try:
                provider_events.process_pending(limit)
            except BaseException as exc:  # reported by the test below
                failures.append(exc)
                db.session.rollback()

    first = threading.Thread(target=work, args=(500,), name="first")
    first.start()
    assert first_in.wait(30)  # the first worker holds the soft bounce in its open transaction
    assert _sendgrid(client, [hard]).json["events"] == {"accepted": 1}
    second = threading.Thread(target=work, args=(500,), name="second")
    second.start()

    def second_is_waiting() -> bool:
        waiting = db.session.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        ).scalar_one()
        db.session.rollback()
        return waiting == 1

    deadline = utcnow() + timedelta(seconds=30)
    while not second_is_waiting():
        assert second.is_alive() and utcnow() < deadline, "the second worker did not wait for the first"
    assert events() == []
    release.set()
    first.join(30)
    second.join(30)
    assert not failures and not first.is_alive() and not second.is_alive()
    assert [(e.kind, e.status_code) for e in events()] == [("soft", "5.2.2"), ("hard", "5.1.1")]
    assert suppression_reason(ann.contact) == "hard_bounce"
