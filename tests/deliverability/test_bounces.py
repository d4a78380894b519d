"""Bounces (REQUIREMENTS E1-E3, E5): real DSN samples about a campaign the engine really sent, the thresholds,
and the inbound SMTP listener end to end."""

import smtplib
from datetime import timedelta
from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy import update

from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns.models import Campaign
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.deliverability.bounces import classify, parse_dsn, purge_bounce_log
from mailer.deliverability.inbound import ReportRefusedError, process_report
from mailer.deliverability.listener import InboundServer
from mailer.deliverability.models import BounceEvent
from mailer.delivery.models import Delivery
from tests.deliverability.bounce_support import (
    delivery_state,
    events,
    report,
    send_campaign,
    smtp_send,
    subscribers,
    suppression_reason,
)
from tests.support.campaigns import deliveries, make_campaign
from tests.support.smtp import _free_port


@pytest.mark.parametrize(
    ("status", "diagnostic", "kind"),
    [
        ("5.1.1", "550 5.1.1 User unknown", "hard"),
        ("5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound", "hard"),
        ("5.4.4", "", "hard"),
        ("5.2.2", "552 5.2.2 Mailbox full", "soft"),  # E2: mailbox full is temporary for the address
        ("5.7.1", "550 5.7.1 Message rejected as spam", "policy"),  # E2: our setup, never the address
        ("5.7.26", "550 5.7.26 Unauthenticated email is not accepted", "policy"),
        ("4.2.2", "452 4.2.2 Over quota", "soft"),
        ("4.4.1", "Connection timed out", "soft"),
        ("", "smtp; 550 Requested action not taken: mailbox unavailable", "hard"),
        ("", "smtp; 421 Service not available", "soft"),
        ("5.0.0 (permanent failure)", "", "hard"),
        ("", "", "soft"),  # nothing to go on: never suppress
    ],
)
def test_classification_follows_rfc_3463_with_the_e2_exceptions(status, diagnostic, kind):
    assert classify(status, diagnostic) == kind


def test_dsn_fields_are_read_and_unfolded():
    msg = BytesParser(policy=policy.compat32).parsebytes(
        report(
            "postfix_hard_5.1.1.eml",
            verp="bounces+1-abc@example.com",
            message_id="<1.x@example.com>",
            recipient="gone@example.net",
        )
    )
    dsn = parse_dsn(msg)
    assert dsn.reporting_mta == "mx.example.net"
    [rec] = dsn.recipients
    assert (rec.final_recipient, rec.action, rec.status) == ("gone@example.net", "failed", "5.1.1")
    assert rec.diagnostic == (
        "550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown in virtual mailbox table"
    )


@pytest.mark.parametrize(
    ("sample", "kind", "status", "suppressed", "action"),
    [
        ("postfix_hard_5.1.1.eml", "hard", "bounced", "hard_bounce", "suppressed"),
        ("qmail_prose_bounce.eml", "hard", "bounced", "hard_bounce", "suppressed"),
        ("exchange_mailbox_full_5.2.2.eml", "soft", "bounced", None, "counted"),
        ("postfix_gave_up_4.4.1.eml", "soft", "bounced", None, "counted"),
        ("gmail_policy_5.7.1.eml", "policy", "failed", None, "operator_alert"),
    ],
)
def test_each_kind_of_report_about_a_sent_message(
    app, news, worker, sample, kind, status, suppressed, action
):
    ann, bob = subscribers(news, "ann@example.net", "bob@example.net")
    _, sent = send_campaign(worker, news)
    delivery = sent["ann@example.net"]

    result = process_report(report(sample, delivery))

    assert (result.status, result.kind, result.delivery_id) == ("recorded", kind, delivery.id)
    after = delivery_state(delivery.id)
    assert after.status == status
    assert after.reason.startswith(
        {
            "hard": "hard bounce",
            "soft": "soft bounce",
            "policy": "refused by policy (our sending setup, not the address)",
        }[kind]
    )
    assert suppression_reason(ann) == suppressed
    assert suppression_reason(bob) is None and delivery_state(sent["bob@example.net"].id).status == "sent"
    [event] = events()
    assert (event.kind, event.action_taken, event.contact_id, event.sending_domain) == (
        kind,
        action,
        ann.id,
        "example.com",
    )
    # Data minimisation: the log keeps the code and the words, never the address (nor the raw report).
    assert "ann@example.net" not in event.diagnostic and "ann@example.net" not in after.reason
    assert event.status_code in ("5.1.1", "5.2.2", "4.4.1", "5.7.1")


def test_global_delivery_status_is_read_like_the_classic_one(app, news, worker):
    """RFC 6533 (SMTPUTF8) reports use message/global-delivery-status; the stdlib parses it differently."""
    (ann,) = subscribers(news, "ann@example.net")
    _, sent = send_campaign(worker, news)
    raw = report("postfix_hard_5.1.1.eml", sent[ann.email]).replace(
        b"Content-Type: message/delivery-status", b"Content-Type: message/global-delivery-status"
    )

    dsn = parse_dsn(BytesParser(policy=policy.compat32).parsebytes(raw))
    result = process_report(raw)

    assert dsn.reporting_mta == "mx.example.net"
    assert [(r.final_recipient, r.action, r.status) for r in dsn.recipients] == [
        (ann.email, "failed", "5.1.1")
    ]
    assert (result.status, result.kind) == ("recorded", "hard") and suppression_reason(ann) == "hard_bounce"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff garbage \r\n\r\n\xfe",
        b"Content-Type: multipart/report; report-type=delivery-status\r\n\r\nno boundary at all\r\n",
        b"Content-Type: multipart/report; boundary=x\r\n\r\n--x\r\n"
        b"Content-Type: message/delivery-status\r\n\r\n"
        b"Status: 5.1.1\r\n",  # truncated mid-report, no VERP, no Message-ID
    ],
)
def test_malformed_messages_are_answered_not_retried(app_ctx, raw):
    assert process_report(raw).status in ("ignored", "unmatched")


def test_a_delay_warning_and_an_auto_reply_change_nothing(app, news, worker):
    subscribers(news, "ann@example.net")
    _, sent = send_campaign(worker, news)
    delivery = sent["ann@example.net"]

    assert process_report(report("postfix_delayed.eml", delivery)).status == "ignored"
    assert process_report(report("vacation_autoreply.eml", delivery)).status == "ignored"
    assert delivery_state(delivery.id).status == "sent" and events() == []


def test_reports_about_mail_we_never_sent_change_nothing(app, news, worker):
    """E5: a forged VERP tag, someone else's address or an unknown Message-ID is not acted on."""
    (ann,) = subscribers(news, "ann@example.net")
    _, sent = send_campaign(worker, news)
    delivery = sent["ann@example.net"]
    forged_mac = f"bounces+{delivery.id:x}-000000000000@example.com"
    guessed_id = f"<{delivery.id}.000000000000@example.com>"

    for raw in (
        report("postfix_hard_5.1.1.eml", verp=forged_mac, message_id=guessed_id, recipient=ann.email),
        report(
            "postfix_hard_5.1.1.eml",
            verp="bounces@example.com",
            message_id="<nope@elsewhere.example>",
            recipient=ann.email,
        ),
        report("qmail_prose_bounce.eml", verp="ann@example.net", message_id="<x@y>", recipient=ann.email),
    ):
        result = process_report(raw, envelope_rcpts=["bounces@example.com"])
        assert result.status == "unmatched", result
        assert "does not reference a message we sent" in result.detail

    assert delivery_state(delivery.id).status == "sent"
    assert suppression_reason(ann) is None and events() == []


def test_a_known_message_id_is_enough_without_verp(app, news, worker):
    (ann,) = subscribers(news, "ann@example.net")
    _, sent = send_campaign(worker, news)
    delivery = sent["ann@example.net"]

    result = process_report(report("postfix_hard_5.1.1.eml", delivery, verp="bounces@example.com"))

    assert result.status == "recorded" and suppression_reason(ann) == "hard_bounce"


def test_oversized_reports_are_refused_unread(app, news, worker):
    (ann,) = subscribers(news, "ann@example.net")
    _, sent = send_campaign(worker, news)
    raw = report("postfix_hard_5.1.1.eml", sent["ann@example.net"])
    padded = raw.replace(
        b"\r\n--3F2A1C0123.1776157923/mx.example.net--",
        b"\r\n" + (b"X" * 76 + b"\r\n") * 3500 + b"--3F2A1C0123.1776157923/mx.example.net--",
    )
    assert len(padded) > app.config["BOUNCE_MAX_REPORT_BYTES"]

    with pytest.raises(ReportRefusedError, match="larger than the 262144-byte limit"):
        process_report(padded)
    assert suppression_reason(ann) is None and events() == []


def test_the_same_report_twice_is_recorded_once(app, news, worker):
    (_ann,) = subscribers(news, "ann@example.net")
    _, sent = send_campaign(worker, news)
    raw = report("postfix_hard_5.1.1.eml", sent["ann@example.net"])

    assert process_report(raw).status == "recorded"
    again = process_report(raw)
    assert again.status == "duplicate" and "already recorded" in again.detail
    assert len(events()) == 1


def _soft_bounce_in_new_campaign(worker, news, address: str, name: str):
    _, sent = send_campaign(worker, news, name)
    return process_report(report("exchange_mailbox_full_5.2.2.eml", sent[address]))


def test_soft_bounces_suppress_after_three_within_thirty_days(app, news, worker):
    (ann,) = subscribers(news, "ann@example.net")
    first = _soft_bounce_in_new_campaign(worker, news, ann.email, "One")
    # The first one is older than the window: it no longer counts.
    db.session.execute(update(BounceEvent).values(created_at=utcnow() - timedelta(days=31)))
    db.session.commit()
    second = _soft_bounce_in_new_campaign(worker, news, ann.email, "Two")
    third = _soft_bounce_in_new_campaign(worker, news, ann.email, "Three")
    assert [r.detail for r in (first, second, third)] == ["soft bounce 5.2.2: counted"] * 3
    assert suppression_reason(ann) is None

    fourth = _soft_bounce_in_new_campaign(worker, news, ann.email, "Four")

    assert fourth.detail == "soft bounce 5.2.2: address suppressed"
    assert suppression_reason(ann) == "hard_bounce"
    assert [e.action_taken for e in events()] == ["counted", "counted", "counted", "suppressed_after_soft"]


@pytest.mark.config(BOUNCE_HARD_LIMIT=2, BOUNCE_SOFT_LIMIT=1)
def test_thresholds_are_configurable(app, news, worker):
    ann, bob = subscribers(news, "ann@example.net", "bob@example.net")
    _, sent = send_campaign(worker, news)

    assert (
        process_report(report("postfix_hard_5.1.1.eml", sent[ann.email])).detail
        == "hard bounce 5.1.1: counted"
    )
    assert (
        process_report(report("exchange_mailbox_full_5.2.2.eml", sent[bob.email])).detail
        == "soft bounce 5.2.2: address suppressed"
    )
    assert suppression_reason(ann) is None and suppression_reason(bob) == "hard_bounce"


def test_policy_refusals_never_suppress_however_many(app, news, worker):
    (ann,) = subscribers(news, "ann@example.net")
    for name in ("One", "Two", "Three", "Four"):
        _, sent = send_campaign(worker, news, name)
        assert process_report(report("gmail_policy_5.7.1.eml", sent[ann.email])).kind == "policy"
    assert suppression_reason(ann) is None
    assert {e.action_taken for e in events()} == {"operator_alert"}


def test_listener_end_to_end_over_smtp(app, news, worker, smtp_server):
    """A DSN sent over real SMTP to the VERP address the message went out with: bounced, suppressed, skipped
    next time."""
    ann, bob = subscribers(news, "ann@example.net", "bob@example.net")
    _, sent = send_campaign(worker, news)
    [original] = smtp_server.to("ann@example.net")
    verp = original.mail_from  # exactly what the engine put on the envelope
    dsn = report("postfix_hard_5.1.1.eml", sent["ann@example.net"], verp=verp)
    server = InboundServer(app, "127.0.0.1", _free_port())
    server.start()
    try:
        code, reply = smtp_send(server.port, verp, dsn)
        assert code == 250 and b"recorded: hard bounce 5.1.1: address suppressed" in reply
        # Not an open sink: anything but our bounce addresses is refused at RCPT.
        with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as conn:
            conn.ehlo("mx.example.net")
            conn.mail("<>")
            assert conn.rcpt("postmaster@example.com")[0] == 550
            assert conn.rcpt(f"bounces+{sent['bob@example.net'].id:x}-000000000000@example.com")[0] == 550
        # Oversized reports are refused by the listener itself.
        big = dsn + (b"X" * 76 + b"\r\n") * 3500
        with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as conn:
            conn.ehlo("mx.example.net")
            conn.mail("<>")
            conn.rcpt(verp)
            assert conn.data(big)[0] == 552
    finally:
        server.stop()

    assert delivery_state(sent["ann@example.net"].id).status == "bounced"
    assert suppression_reason(ann) == "hard_bounce" and suppression_reason(bob) is None

    second = make_campaign([news])
    second.name = "Summer"
    db.session.commit()
    assert campaigns.compliance_preview(second)["excluded"]["bounced"] == 1
    db.session.commit()
    campaigns.start_campaign(second)
    db.session.commit()
    worker.drain()
    assert [m.rcpt_tos for m in smtp_server.messages[2:]] == [
        ["bob@example.net"]
    ]  # the next campaign skips Ann
    assert {d.contact_id for d in deliveries(second)} == {bob.id}


def test_process_command_reads_a_saved_report(app, runner, news, worker, tmp_path):
    (ann,) = subscribers(news, "ann@example.net")
    _, sent = send_campaign(worker, news)
    path = tmp_path / "bounce.eml"
    path.write_bytes(report("postfix_hard_5.1.1.eml", sent[ann.email]))
    big = tmp_path / "big.eml"
    big.write_bytes(b"X" * (app.config["BOUNCE_MAX_REPORT_BYTES"] + 10))

    result = runner.invoke(args=["bounces", "process", str(path)])
    refused = runner.invoke(args=["bounces", "process", str(big)])

    assert result.exit_code == 0 and "recorded: hard bounce 5.1.1: address suppressed" in result.output
    assert refused.exit_code == 1 and "larger than the" in refused.output
    assert suppression_reason(ann) == "hard_bounce"


def test_bounce_log_is_purged_after_twelve_months(app, news, worker, runner):
    ann, bob = subscribers(news, "ann@example.net", "bob@example.net")
    _, sent = send_campaign(worker, news)
    process_report(report("postfix_hard_5.1.1.eml", sent[ann.email]))
    process_report(report("exchange_mailbox_full_5.2.2.eml", sent[bob.email]))
    old = events()[0].id
    db.session.execute(
        update(BounceEvent).where(BounceEvent.id == old).values(created_at=utcnow() - timedelta(days=366))
    )
    db.session.commit()

    assert purge_bounce_log(dry_run=True) == 1 and len(events()) == 2
    assert "Would delete 1 bounce log entries" in runner.invoke(args=["bounces", "purge", "--dry-run"]).output
    assert purge_bounce_log() == 1
    assert [e.kind for e in events()] == ["soft"]
    # The suppression itself stays: only the log entry aged out.
    assert suppression_reason(ann) == "hard_bounce"
    assert db.session.get(Campaign, sent[ann.email].campaign_id) is not None
    assert db.session.get(Delivery, sent[ann.email].id).status == "bounced"
