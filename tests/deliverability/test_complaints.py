"""Spam complaints (REQUIREMENTS E4, E5, B4): ARF reports about a campaign the engine really sent suppress at
once, withdraw consent in the ledger, and a high complaint rate pauses the domain's sending campaigns."""

import pytest

from mailer.campaigns import lifecycle as campaigns
from mailer.consent.ledger import verify_chain
from mailer.core.extensions import db
from mailer.deliverability.domains import complaint_rates
from mailer.deliverability.inbound import process_report
from mailer.deliverability.listener import InboundServer
from tests.deliverability.bounce_support import (
    campaign_left_sending,
    campaign_state,
    events,
    report,
    send_campaign,
    smtp_send,
    subscribers,
    subscription_status,
    suppression_reason,
    withdrawals,
)
from tests.support.campaigns import make_campaign
from tests.support.smtp import _free_port

FBL = "fbl@example.com"
pytestmark = pytest.mark.config(MAILER_COMPLAINTS_ADDRESS=FBL)


def test_a_complaint_suppresses_at_once_and_withdraws_consent_for_the_list(app, news, worker):
    ann, bob = subscribers(news, "ann@example.net", "bob@example.net")
    campaign, sent = send_campaign(worker, news)

    result = process_report(report("yahoo_arf_abuse.eml", sent[ann.email], to=FBL), envelope_rcpts=[FBL])

    assert (result.status, result.kind) == ("recorded", "complaint")
    assert result.detail == "abuse complaint: address suppressed, consent for the list withdrawn"
    assert suppression_reason(ann) == "complaint" and suppression_reason(bob) is None
    assert subscription_status(ann, news) == "unsubscribed" and subscription_status(bob, news) == "confirmed"
    [withdrawal] = withdrawals(ann)
    assert withdrawal.purpose_id == news.purpose.id and withdrawal.source == "system:complaint"
    assert (
        withdrawal.details["reason"] == "complaint" and withdrawal.details["campaign"] == campaign.public_id
    )
    assert withdrawal.details["feedback_type"] == "abuse" and withdrawal.email == "ann@example.net"
    assert withdrawals(bob) == [] and verify_chain().ok
    [event] = events()
    assert (event.kind, event.status_code, event.source, event.action_taken) == (
        "complaint",
        "abuse",
        "arf",
        "suppressed",
    )
    assert event.reporter == "arf.mail.yahoo.example" and event.campaign_id == campaign.id
    # The delivery itself did arrive: a complaint is not a bounce.
    assert sent[ann.email].status == "sent"


def test_lenient_reading_headers_only_old_version_matched_by_message_id(app, news, worker):
    """Version 0.1, the recipient redacted, no VERP anywhere: the Message-ID alone proves it is our
    message."""
    (ann,) = subscribers(news, "ann@example.net")
    _, sent = send_campaign(worker, news)

    result = process_report(report("arf_headers_only_v01.eml", sent[ann.email], to=FBL), envelope_rcpts=[FBL])

    assert (result.status, result.kind) == ("recorded", "complaint")
    assert suppression_reason(ann) == "complaint" and len(withdrawals(ann)) == 1


def test_not_spam_reports_change_nothing(app, news, worker):
    (ann,) = subscribers(news, "ann@example.net")
    _, sent = send_campaign(worker, news)

    result = process_report(report("arf_not_spam.eml", sent[ann.email], to=FBL), envelope_rcpts=[FBL])

    assert result.status == "ignored"
    assert suppression_reason(ann) is None and withdrawals(ann) == [] and events() == []


def test_a_complaint_about_mail_we_never_sent_changes_nothing(app, news, worker):
    (ann,) = subscribers(news, "ann@example.net")
    send_campaign(worker, news)

    for raw in (
        report("arf_headers_only_v01.eml", message_id="<4242.deadbeef0000@example.com>", to=FBL),
        report(
            "yahoo_arf_abuse.eml",
            verp="bounces+1-aaaaaaaaaaaa@example.com",
            recipient=ann.email,
            message_id="<someone-else@example.org>",
            to=FBL,
        ),
    ):
        result = process_report(raw, envelope_rcpts=[FBL])
        assert result.status == "unmatched", result

    assert suppression_reason(ann) is None and withdrawals(ann) == [] and events() == []
    assert subscription_status(ann, news) == "confirmed"


def test_the_same_complaint_twice_is_one_ledger_event(app, news, worker):
    (ann,) = subscribers(news, "ann@example.net")
    _, sent = send_campaign(worker, news)
    raw = report("yahoo_arf_abuse.eml", sent[ann.email], to=FBL)

    assert process_report(raw, [FBL]).status == "recorded"
    assert process_report(raw, [FBL]).status == "duplicate"
    assert len(withdrawals(ann)) == 1 and len(events()) == 1 and verify_chain().ok


def test_complaints_arrive_over_smtp_at_the_feedback_address(app, news, worker):
    (ann,) = subscribers(news, "ann@example.net")
    _, sent = send_campaign(worker, news)
    server = InboundServer(app, "127.0.0.1", _free_port())
    server.start()
    try:
        code, reply = smtp_send(server.port, FBL, report("yahoo_arf_abuse.eml", sent[ann.email], to=FBL))
    finally:
        server.stop()
    assert code == 250 and b"recorded: abuse complaint" in reply
    assert suppression_reason(ann) == "complaint"


@pytest.mark.config(COMPLAINT_RATE_MIN_VOLUME=100)
def test_a_complaint_rate_above_the_threshold_pauses_the_domains_sending_campaigns(app, news, worker):
    people = subscribers(news, *(f"person{i}@example.net" for i in range(5)))
    _, sent = send_campaign(worker, news)
    summer = campaign_left_sending(app, news, "Summer")
    elsewhere = campaign_left_sending(app, news, "Other brand", from_email="news@other.example")
    assert campaign_state(summer)[0] == "sending"

    result = process_report(report("yahoo_arf_abuse.eml", sent[people[0].email], to=FBL), [FBL])

    assert "complaint rate too high, paused 1 campaign(s)" in result.detail
    status, reason = campaign_state(summer)
    assert status == "paused"
    assert reason.startswith(
        "Paused automatically: 1 spam complaint(s) about mail from example.com in the last "
        "24 hours against 5 messages sent — a complaint rate of 1.00 %, above the 0.3 % limit"
    )
    assert campaign_state(elsewhere)[0] == "sending"  # another sending domain has its own reputation


def test_one_complaint_on_a_small_send_does_not_pause(app, news, worker):
    """Below COMPLAINT_RATE_MIN_VOLUME (1000) messages the rate is taken over 1000: 1 complaint is 0.1 %."""
    people = subscribers(news, *(f"person{i}@example.net" for i in range(5)))
    _, sent = send_campaign(worker, news)
    summer = campaign_left_sending(app, news, "Summer")

    result = process_report(report("yahoo_arf_abuse.eml", sent[people[0].email], to=FBL), [FBL])

    assert result.status == "recorded" and "paused" not in result.detail
    assert campaign_state(summer)[0] == "sending"
    [today] = complaint_rates()
    assert (today.domain, today.sent, today.complaints, today.rate) == ("example.com", 5, 1, 20.0)
    assert today.above_threshold  # the day's own rate is shown honestly


def test_complaint_rate_is_per_sending_domain_and_day(app, news, worker):
    people = subscribers(news, "ann@example.net", "bob@example.net")
    _, ours = send_campaign(worker, news)
    other = make_campaign([news], from_email="news@other.example")
    other.name = "Other brand"
    db.session.commit()
    campaigns.start_campaign(other)
    db.session.commit()
    worker.drain()

    process_report(report("yahoo_arf_abuse.eml", ours[people[1].email], to=FBL), [FBL])

    rows = {row.domain: (row.sent, row.complaints) for row in complaint_rates()}
    assert rows == {"example.com": (2, 1), "other.example": (2, 0)}
