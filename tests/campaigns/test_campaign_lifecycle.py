"""Starting, scheduling and test-sending campaigns: what is refused and why, in words for people."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns.models import Campaign
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery.models import Delivery
from tests.support.campaigns import campaign_status, deliveries, make_layout, newsletter


@pytest.mark.config(MAILER_POSTAL_ADDRESS="")
def test_sending_is_refused_without_a_postal_address(app_ctx):
    campaign, _ = newsletter(1)
    with pytest.raises(campaigns.CampaignError, match="postal address"):
        campaigns.start_campaign(campaign)
    db.session.rollback()
    assert campaign_status(campaign) == "draft"


def test_sending_is_refused_for_an_unverified_layout_no_list_or_empty_content(app_ctx):
    campaign, _ = newsletter(1)
    campaign.layout = make_layout("<html><body>{{ content }}</body></html>")
    campaign.subject, campaign.lists = "", []
    with pytest.raises(campaigns.CampaignError) as refused:
        campaigns.start_campaign(campaign)
    message = str(refused.value)
    assert "missing required footer parts" in message and "subject" in message and "list" in message


def test_sending_is_refused_when_nobody_may_receive_it(app_ctx):
    campaign, [contact] = newsletter(1)
    contact.status = "restricted"
    db.session.commit()
    with pytest.raises(campaigns.CampaignError, match="Nobody"):
        campaigns.start_campaign(campaign)


def test_scheduled_campaign_starts_when_due_in_its_time_zone(app_ctx, worker, smtp_server):
    campaign, [contact] = newsletter(1)
    local = (utcnow() + timedelta(hours=3)).replace(microsecond=0)
    berlin = datetime.fromisoformat("2030-01-15T09:30:00")
    with pytest.raises(campaigns.CampaignError, match="already passed"):
        campaigns.schedule_campaign(campaign, datetime(2001, 1, 1, 9, 0), "Europe/Berlin")
    with pytest.raises(campaigns.CampaignError, match="Unknown time zone"):
        campaigns.schedule_campaign(campaign, local, "Mars/Olympus")
    campaigns.schedule_campaign(campaign, berlin, "Europe/Berlin")
    db.session.commit()
    assert campaign.scheduled_at == datetime(2030, 1, 15, 8, 30)  # CET is UTC+1 in January
    assert campaigns.start_due_campaigns() == 0 and campaign_status(campaign) == "scheduled"

    db.session.get(Campaign, campaign.id).scheduled_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert campaigns.start_due_campaigns() == 1
    worker.drain()
    assert campaign_status(campaign) == "sent" and smtp_server.to(contact.email)


def test_test_send_is_marked_and_built_like_the_real_thing(app_ctx, worker, smtp_server):
    campaign, _ = newsletter(1)
    with pytest.raises(campaigns.CampaignError, match="not-an-address"):
        campaigns.send_test(campaign, ["not-an-address"])
    assert (
        campaigns.send_test(campaign, ["Tester@Example.org", "tester@example.org", "boss@example.org"]) == 2
    )
    db.session.commit()
    worker.drain()

    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == ["boss@example.org", "tester@example.org"]
    msg = smtp_server.to("boss@example.org")[0].message
    assert msg["Subject"] == "[TEST] Spring news for Jane" and msg["X-Mailer-Test"] == "yes"
    # boss@ is no contact: a one-click POST could act on nobody, so the test carries no such header (A7).
    assert msg["List-Unsubscribe-Post"] is None and msg["List-Unsubscribe"] is None
    assert not db.session.execute(select(Delivery)).first()  # tests are not deliveries
    assert campaign_status(campaign) == "draft"


def test_progress_and_recovery_report_uncertain_deliveries(app_ctx, runner):
    campaign, _contacts = newsletter(3)
    campaigns.start_campaign(campaign)
    db.session.commit()
    from mailer.campaigns import sending

    sending.plan_campaign(campaign.id)
    first, second, _third = deliveries(campaign)
    first.status, first.finished_at = "sent", utcnow()
    second.status, second.claimed_at = "sending", utcnow() - timedelta(hours=1)  # its worker died an hour ago
    db.session.commit()

    result = runner.invoke(args=["recover-deliveries"])
    assert result.exit_code == 0 and "1 deliveries marked uncertain" in result.output
    progress = campaigns.progress(db.session.get(Campaign, campaign.id))
    assert {k: progress[k] for k in ("status", "total", "sent", "uncertain", "queued", "remaining")} == {
        "status": "sending",
        "total": 3,
        "sent": 1,
        "uncertain": 1,
        "queued": 1,
        "remaining": 1,
    }
    assert "may or may not" in deliveries(campaign)[1].reason
