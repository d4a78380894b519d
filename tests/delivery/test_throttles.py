"""Per-recipient-domain throttles and the warm-up of a new sending domain, through the real engine and SMTP.

A message over a limit goes back to the queue unsent (its attempt does not count) and waits for its limit;
everyone else goes on. Both backends: in-process buckets and counters on SQLite, Redis on PostgreSQL.
"""

import re
from datetime import date, timedelta

import pytest

import mailer
from mailer import create_app
from mailer.campaigns import sending
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery import throttles
from mailer.delivery.throttles import ThrottleSettingError, allowance, parse_throttles
from tests.support.campaigns import deliveries, newsletter, subscriber
from tests.support.engine_steps import fresh, open_count_is_exact, start_and_plan, time_passes
from tests.support.proxy import app_config_from_environment

TWO_DAYS_AGO = (date.today() - timedelta(days=2)).isoformat()


def _received(smtp_server) -> list[str]:
    return sorted(message.rcpt_tos[0] for message in smtp_server.messages)


@pytest.mark.config(SEND_WARMUP=f"warm.example={TWO_DAYS_AGO}", SEND_WARMUP_SCHEDULE="1000,1000,4,8")
def test_a_warming_domain_sends_its_daily_allowance_and_the_rest_waits_for_the_next_day(
    app, app_ctx, smtp_server, auth, monkeypatch
):
    campaign, contacts = newsletter(10, from_email="news@warm.example")
    batch = start_and_plan(campaign)
    sending.send_batch(campaign.id, batch)

    assert len(smtp_server.messages) == 4  # day 3 of the warm-up: 4 messages
    waiting = [d for d in deliveries(campaign) if d.status == "queued"]
    assert len(waiting) == 6 and {d.attempts for d in waiting} == {0}  # no attempt used up
    assert {d.reason for d in waiting} == {
        "waiting for warm-up allowance: warm.example sends 4 messages on warm-up day 3"
    }
    tomorrow = (utcnow() + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert {d.not_before_at for d in waiting} == {tomorrow}
    assert "waiting for warm-up allowance" in auth.get(f"/admin/campaigns/{campaign.public_id}").text

    time_passes(campaign)  # due again, but today's allowance is spent
    sending.send_batch(campaign.id, batch)
    assert len(smtp_server.messages) == 4 and fresh(campaign).status == "sending"

    monkeypatch.setattr(throttles, "utcnow", lambda: tomorrow + timedelta(hours=1))  # day 4: 8 messages
    time_passes(campaign)
    sending.send_batch(campaign.id, batch)
    assert _received(smtp_server) == sorted(contact.email for contact in contacts)  # each exactly once
    assert fresh(campaign).status == "sent" and open_count_is_exact(campaign)


@pytest.mark.config(SEND_DOMAIN_THROTTLES="example.net=1/h; gmail.com+googlemail.com=600/min")
def test_a_throttled_recipient_domain_waits_while_other_domains_go_on(app, app_ctx, smtp_server):
    campaign, _ = newsletter(4)  # person0…3@example.net
    others = [subscriber(campaign.lists[0], f"reader{i}@example.org") for i in range(3)]
    db.session.commit()
    batch = start_and_plan(campaign)
    sending.send_batch(campaign.id, batch)

    received = _received(smtp_server)
    assert [a for a in received if a.endswith("@example.org")] == sorted(c.email for c in others)
    assert len([a for a in received if a.endswith("@example.net")]) == 1  # the bucket holds one
    waiting = [d for d in deliveries(campaign) if d.status == "queued"]
    assert len(waiting) == 3 and {d.reason for d in waiting} == {"waiting for the example.net throttle"}
    assert {d.attempts for d in waiting} == {0}
    assert all(d.not_before_at > utcnow() + timedelta(minutes=30) for d in waiting)  # next token: ~1 h

    time_passes(campaign)  # due again, but the bucket has no token yet
    sending.send_batch(campaign.id, batch)
    assert len(smtp_server.messages) == 4 and open_count_is_exact(campaign)
    assert len(set(_received(smtp_server))) == 4  # nobody twice


def test_the_limits_are_read_from_the_environment(monkeypatch, database_url):
    app_config_from_environment(
        monkeypatch,
        SEND_DOMAIN_THROTTLES="gmail.com+googlemail.com=600/min",
        SEND_WARMUP="news.example.com=2026-12-01",
        SEND_WARMUP_SCHEDULE="50,100",
    )
    config = mailer.CONFIGS["production"]
    assert config.SEND_DOMAIN_THROTTLES == "gmail.com+googlemail.com=600/min"
    assert (config.SEND_WARMUP, config.SEND_WARMUP_SCHEDULE) == ("news.example.com=2026-12-01", "50,100")
    [group] = parse_throttles(config.SEND_DOMAIN_THROTTLES)
    assert group.domains == {"gmail.com", "googlemail.com"} and group.per_second == 10
    assert [allowance(date(2026, 12, 1), date(2026, 12, d), (50, 100)) for d in (1, 2, 3)] == [50, 100, None]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"SEND_DOMAIN_THROTTLES": "gmail.com=lots"}, "write e.g. gmail.com+googlemail.com=600/min"),
        ({"SEND_WARMUP": "news.example.com=next week"}, "write e.g. news.example.com=2026-12-01"),
        ({"SEND_WARMUP_SCHEDULE": "50,many"}, "write whole numbers"),
    ],
)
def test_unreadable_limits_refuse_to_start(database_url, setting, message):
    with pytest.raises(ThrottleSettingError, match=re.escape(message)):
        create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": database_url, **setting})
