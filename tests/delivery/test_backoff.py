"""Temporary failures wait per delivery (backoff with jitter); a relay that does not answer makes all wait."""

from datetime import timedelta

import pytest

from mailer.campaigns import sending
from mailer.core.clock import utcnow
from tests.support.campaigns import deliveries, newsletter
from tests.support.engine_steps import fresh, open_count_is_exact, start_and_plan, time_passes, watch_broker


@pytest.mark.config(SEND_RETRY_BACKOFF_SECONDS=30)
def test_a_4xx_waits_with_backoff_while_the_others_go_on(app, app_ctx, smtp_server):
    campaign, (first, busy, last) = newsletter(3)
    smtp_server.rcpt_replies[busy.email] = "451 4.3.0 Mailbox busy, try later"
    enqueued = watch_broker(app)
    batch = start_and_plan(campaign)
    before = utcnow()
    sending.send_batch(campaign.id, batch)

    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == sorted([first.email, last.email])
    waiting = {d.contact_id: d for d in deliveries(campaign)}[busy.id]
    assert (waiting.status, waiting.attempts, waiting.smtp_code) == ("queued", 1, 451)
    assert before + timedelta(seconds=23) < waiting.not_before_at < utcnow() + timedelta(seconds=37)
    assert (
        waiting.reason
        == f"will retry at {waiting.not_before_at:%H:%M:%S} UTC: 451 4.3.0 Mailbox busy, try later"
    )
    assert fresh(campaign).status == "sending" and fresh(campaign).waiting_reason == ""
    assert open_count_is_exact(campaign) and fresh(campaign).open_deliveries == 1
    # The batch comes back by itself when that delivery is due, not before.
    [(args, delay)] = enqueued.of("send_batch")[-1:]
    assert args == (campaign.id, batch) and 23_000 < delay < 37_500

    sending.send_batch(campaign.id, batch)  # the message arrives early: nothing is due yet, nothing is sent
    assert len(smtp_server.messages) == 2 and deliveries(campaign)[1].attempts == 1

    del smtp_server.rcpt_replies[busy.email]
    time_passes(campaign)
    sending.send_batch(campaign.id, batch)
    assert [m.rcpt_tos[0] for m in smtp_server.messages].count(busy.email) == 1
    assert {(d.status, d.attempts) for d in deliveries(campaign) if d.contact_id == busy.id} == {("sent", 2)}
    assert fresh(campaign).status == "sent" and open_count_is_exact(campaign)


@pytest.mark.config(SEND_RETRY_BACKOFF_SECONDS=10, SEND_MAX_ATTEMPTS=3)
def test_the_backoff_doubles_and_gives_up_after_the_last_attempt(app, app_ctx, smtp_server):
    campaign, [contact] = newsletter(1)
    smtp_server.rcpt_replies[contact.email] = "452 4.2.2 Mailbox full for now"
    batch = start_and_plan(campaign)
    waits = []  # (shortest, longest) backoff the retry time allows: the refusal came while send_batch ran
    for _ in range(3):
        started = utcnow()
        sending.send_batch(campaign.id, batch)
        finished = utcnow()
        [delivery] = deliveries(campaign)
        if delivery.status == "queued":
            waits.append(
                (
                    (delivery.not_before_at - finished).total_seconds(),
                    (delivery.not_before_at - started).total_seconds(),
                )
            )
            time_passes(campaign)
    # 10 s, then 20 s, each ±20 %, however long the batch itself took on a busy machine
    assert waits[0][0] <= 12.5 and waits[0][1] >= 8 and waits[1][0] <= 24.5 and waits[1][1] >= 16
    assert waits[1][1] > waits[0][0] + 3  # it grew
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert delivery.reason.startswith("gave up after 3 attempts: 452 4.2.2")
    assert fresh(campaign).status == "sent" and open_count_is_exact(campaign)


@pytest.mark.config(SEND_ERROR_PAUSE_MIN=5, SEND_RETRY_BACKOFF_SECONDS=60, SEND_RELAY_RETRY_SECONDS=5)
def test_a_relay_answering_451_to_everyone_makes_the_campaign_wait_not_pause(app, app_ctx, smtp_server):
    campaign, contacts = newsletter(15)
    for contact in contacts:
        smtp_server.rcpt_replies[contact.email] = "451 4.3.0 Temporary local problem"
    batch = start_and_plan(campaign)
    sending.send_batch(campaign.id, batch)

    waiting = fresh(campaign)
    assert waiting.status == "sending" and waiting.status_reason == ""  # temporary refusals never pause it
    assert waiting.waiting_reason.startswith(
        "Waiting for the relay: 451 4.3.0 Temporary local problem. Next try at"
    )
    tried = [d for d in deliveries(campaign) if d.attempts]
    assert (
        len(tried) == 10
    )  # ten refusals in a row: the relay, not the recipients; the others keep their attempts
    assert all(d.status == "queued" and d.not_before_at is not None for d in deliveries(campaign))
    assert open_count_is_exact(campaign)

    smtp_server.rcpt_replies.clear()
    time_passes(campaign)
    sending.send_batch(campaign.id, batch)
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == sorted(c.email for c in contacts)
    done = fresh(campaign)
    assert (done.status, done.waiting_reason, done.waiting_until, done.relay_failures) == (
        "sent",
        "",
        None,
        0,
    )


@pytest.mark.config(SEND_RELAY_RETRY_SECONDS=5)
def test_a_relay_that_refuses_connections_makes_the_campaign_wait_and_resume_by_itself(
    app, app_ctx, smtp_server
):
    campaign, contacts = newsletter(4)
    enqueued = watch_broker(app)
    batch = start_and_plan(campaign)
    smtp_server.stop()  # the relay is down
    try:
        sending.send_batch(campaign.id, batch)
        first = fresh(campaign)
        assert first.status == "sending" and first.relay_failures == 1
        assert first.waiting_reason.startswith(
            "Waiting for the relay: connection failed: ConnectionRefusedError"
        )
        assert f"Next try at {first.waiting_until:%H:%M:%S} UTC." in first.waiting_reason
        assert timedelta(seconds=4) < first.waiting_until - utcnow() < timedelta(seconds=6.5)
        assert {(d.status, d.attempts) for d in deliveries(campaign)} == {("queued", 0)}  # no attempt used up
        assert all(d.not_before_at == first.waiting_until for d in deliveries(campaign))
        [(args, delay)] = enqueued.of("send_batch")[-1:]
        assert args == (campaign.id, batch) and 4_000 < delay < 7_000

        sending.send_batch(campaign.id, batch)  # early: still waiting, nothing tried
        assert fresh(campaign).relay_failures == 1
        time_passes(campaign)
        sending.send_batch(campaign.id, batch)  # still down: the next wait is twice as long
        second = fresh(campaign)
        assert second.relay_failures == 2 and timedelta(seconds=9) < second.waiting_until - utcnow()
        assert {d.attempts for d in deliveries(campaign)} == {0}
    finally:
        smtp_server.restart()  # the relay is back
    time_passes(campaign)
    sending.send_batch(campaign.id, batch)
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == sorted(c.email for c in contacts)
    done = fresh(campaign)
    assert (done.status, done.waiting_reason, done.relay_failures) == ("sent", "", 0)
    assert {(d.status, d.attempts) for d in deliveries(campaign)} == {("sent", 1)}


def test_a_421_is_the_relay_closing_so_the_campaign_waits_without_using_the_attempt(
    app, app_ctx, smtp_server
):
    campaign, contacts = newsletter(3)
    smtp_server.data_replies.append("421 4.3.2 Service shutting down")
    batch = start_and_plan(campaign)
    sending.send_batch(campaign.id, batch)
    assert fresh(campaign).waiting_reason.startswith("Waiting for the relay: 421 4.3.2 Service shutting down")
    assert all(d.attempts == 0 for d in deliveries(campaign) if d.status == "queued")
    time_passes(campaign)
    sending.send_batch(campaign.id, batch)
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == sorted(c.email for c in contacts)
    assert fresh(campaign).status == "sent" and open_count_is_exact(campaign)


def test_a_reply_lost_after_the_content_is_uncertain_and_never_resent(app, app_ctx, smtp_server):
    campaign, contacts = newsletter(3)
    smtp_server.drop_after_data = 1
    batch = start_and_plan(campaign)
    sending.send_batch(campaign.id, batch)
    sending.send_batch(campaign.id, batch)

    received = [m.rcpt_tos[0] for m in smtp_server.messages]
    assert sorted(received) == sorted(c.email for c in contacts)  # each exactly once
    [lost] = [d for d in deliveries(campaign) if d.status == "uncertain"]
    assert "after it received the message and before it answered" in lost.reason
    assert fresh(campaign).status == "sent" and open_count_is_exact(campaign)


def test_a_late_success_from_before_the_outage_does_not_end_the_wait(app, app_ctx):
    from mailer.delivery.claims import Claims
    from mailer.delivery.replies import TEMPORARY, SmtpOutcome

    campaign, _ = newsletter(2)
    batch = start_and_plan(campaign)
    claims = Claims(sending.STORE, campaign.id, batch, "worker-a")
    first, second = claims.claim(2)
    assert claims.hand_over([(first[0], "<a@example.com>")])
    until = sending.STORE.wait_for_relay(
        campaign.id, SmtpOutcome(TEMPORARY, None, "connection failed: ConnectionRefusedError").describe()
    )
    claims.sent(first[0])  # accepted just before the relay went away, written after the wait began
    claims.flush()
    waiting = fresh(campaign)
    assert waiting.waiting_until == until and waiting.relay_failures == 1 and waiting.waiting_reason

    time_passes(campaign)
    assert claims.hand_over([(second[0], "<b@example.com>")])
    claims.sent(second[0])
    claims.flush()  # mail that flows after the wait ran out ends it
    assert (fresh(campaign).waiting_reason, fresh(campaign).relay_failures) == ("", 0)
