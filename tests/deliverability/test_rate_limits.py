"""Bounce and complaint rate limits (BOUNCE_RATE_PAUSE_THRESHOLD, COMPLAINT_RATE_PAUSE_THRESHOLD): read
from the environment, one rule (`RecentRate.exceeded`) for the automatic pause and the Deliverability page;
bounces are checked by the scheduled job, complaints also as each arrives."""

import pytest

import mailer
from mailer import create_app
from mailer.deliverability.domains import BOUNCE_LIMIT, COMPLAINT_LIMIT, recent_rate
from mailer.deliverability.inbound import process_report
from mailer.scheduler import PERIODIC_JOBS
from tests.deliverability.bounce_support import (
    campaign_left_sending,
    campaign_state,
    report,
    send_campaign,
    subscribers,
)
from tests.support.proxy import app_config_from_environment

FBL = "fbl@example.com"


def test_the_limits_are_read_from_the_environment_with_todays_defaults(monkeypatch, database_url):
    monkeypatch.delenv("BOUNCE_RATE_PAUSE_THRESHOLD", raising=False)
    monkeypatch.delenv("COMPLAINT_RATE_PAUSE_THRESHOLD", raising=False)
    app_config_from_environment(monkeypatch)
    defaults = mailer.CONFIGS["production"]
    assert (defaults.BOUNCE_RATE_PAUSE_THRESHOLD, defaults.COMPLAINT_RATE_PAUSE_THRESHOLD) == (5.0, 0.3)

    app_config_from_environment(
        monkeypatch, BOUNCE_RATE_PAUSE_THRESHOLD="2.5", COMPLAINT_RATE_PAUSE_THRESHOLD="0.1"
    )
    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        assert (BOUNCE_LIMIT.percent, COMPLAINT_LIMIT.percent) == (2.5, 0.1)


@pytest.mark.config(COMPLAINT_RATE_MIN_VOLUME=10, BOUNCE_RATE_PAUSE_THRESHOLD=10)
def test_a_bounce_rate_above_its_limit_pauses_the_domains_sending_campaigns_at_the_scheduled_check(
    app, news, worker
):
    people = subscribers(news, *(f"person{i}@example.net" for i in range(5)))
    _, sent = send_campaign(worker, news)
    summer = campaign_left_sending(app, news, "Summer")
    elsewhere = campaign_left_sending(app, news, "Other brand", from_email="news@other.example")
    check = app.extensions["mailer.workers"].actors["check_sending_rates"]
    assert "check_sending_rates" in PERIODIC_JOBS

    process_report(report("postfix_hard_5.1.1.eml", sent[people[0].email]))
    check()  # 1 bounce over (at least) 10 messages: 10 %, not above the limit
    assert campaign_state(summer)[0] == "sending"
    assert recent_rate("example.com").exceeded() == []

    process_report(report("postfix_hard_5.1.1.eml", sent[people[1].email]))
    check()
    status, reason = campaign_state(summer)
    assert status == "paused"
    assert reason.startswith(
        "Paused automatically: 2 bounce report(s) about mail from example.com in the last 24 hours against "
        "5 messages sent — a bounce rate of 20.00 %, above the 10 % limit (BOUNCE_RATE_PAUSE_THRESHOLD)."
    )
    assert "Bounced addresses are suppressed already" in reason
    assert campaign_state(elsewhere)[0] == "sending"  # another sending domain has its own reputation
    assert recent_rate("example.com").exceeded() == [BOUNCE_LIMIT]


@pytest.mark.config(
    COMPLAINT_RATE_MIN_VOLUME=10, BOUNCE_RATE_PAUSE_THRESHOLD=10, MAILER_COMPLAINTS_ADDRESS=FBL
)
def test_a_complaint_pauses_at_once_and_names_every_limit_exceeded(app, news, worker):
    people = subscribers(news, *(f"person{i}@example.net" for i in range(5)))
    _, sent = send_campaign(worker, news)
    summer = campaign_left_sending(app, news, "Summer")
    for person in people[:2]:
        process_report(report("postfix_hard_5.1.1.eml", sent[person.email]))
    assert campaign_state(summer)[0] == "sending"  # bounces wait for the scheduled check

    result = process_report(report("yahoo_arf_abuse.eml", sent[people[2].email], to=FBL), [FBL])

    assert "paused 1 campaign(s)" in result.detail
    status, reason = campaign_state(summer)
    assert status == "paused"
    assert "a bounce rate of 20.00 %, above the 10 % limit (BOUNCE_RATE_PAUSE_THRESHOLD)" in reason
    assert "a complaint rate of 10.00 %, above the 0.3 % limit (COMPLAINT_RATE_PAUSE_THRESHOLD)" in reason
