"""Uncertain deliveries are resent only by an operator's decision, and the campaign's counters stay exact."""

import pytest
from sqlalchemy import update

from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns import sending
from mailer.campaigns.models import Campaign
from mailer.campaigns.rendering import CampaignError
from mailer.core.extensions import db
from mailer.delivery.models import Delivery
from tests.support.campaigns import campaign_status, deliveries, newsletter
from tests.support.engine_steps import open_count_is_exact


def _mark_uncertain(ids):
    """What recovery does to deliveries whose worker died in the SMTP transaction (they count as finished)."""
    db.session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(status="uncertain", reason="uncertain: the worker stopped during the SMTP transaction")
    )
    db.session.commit()


def test_requeue_uncertain_resends_only_the_chosen_ones_and_reopens_the_campaign(
    app, app_ctx, worker, smtp_server
):
    campaign, contacts = newsletter(3)
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    assert campaign_status(campaign) == "sent" and open_count_is_exact(campaign)
    first, second, third = deliveries(campaign)
    _mark_uncertain([first.id, second.id])

    # the third was sent: not touched
    assert sending.requeue_uncertain(campaign.id, [first.id, third.id]) == 1
    assert campaign_status(campaign) == "sending" and open_count_is_exact(campaign)
    db.session.commit()  # the caller commits; the batch message leaves then
    worker.drain()

    assert campaign_status(campaign) == "sent" and open_count_is_exact(campaign)
    again = {d.id: d for d in deliveries(campaign)}
    assert again[first.id].status == "sent" and again[second.id].status == "uncertain"
    received = [m.rcpt_tos[0] for m in smtp_server.messages]
    email_of = {c.id: c.email for c in contacts}
    assert received.count(email_of[first.contact_id]) == 2  # resent, as the operator decided
    assert received.count(email_of[second.contact_id]) == 1

    assert sending.requeue_uncertain(campaign.id) == 1  # all the rest
    db.session.commit()
    worker.drain()
    assert {d.status for d in deliveries(campaign)} == {"sent"}
    assert campaign_status(campaign) == "sent" and open_count_is_exact(campaign)
    assert sending.requeue_uncertain(campaign.id) == 0 and campaign_status(campaign) == "sent"


def test_requeue_uncertain_of_a_paused_campaign_waits_for_resume(app, app_ctx, worker, smtp_server):
    campaign, _contacts = newsletter(2)
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    first, _ = deliveries(campaign)
    _mark_uncertain([first.id])
    db.session.execute(update(Campaign).where(Campaign.id == campaign.id).values(status="paused"))
    db.session.commit()

    assert sending.requeue_uncertain(campaign.id, [first.id]) == 1
    db.session.commit()
    worker.drain()
    assert campaign_status(campaign) == "paused" and deliveries(campaign)[0].status == "queued"
    assert len(smtp_server.messages) == 2

    campaigns.resume_campaign(db.session.get(Campaign, campaign.id))
    db.session.commit()
    worker.drain()
    assert campaign_status(campaign) == "sent" and open_count_is_exact(campaign)
    assert len(smtp_server.messages) == 3


def test_requeue_uncertain_refuses_a_cancelled_campaign(app, app_ctx):
    campaign, _ = newsletter(2)
    campaigns.start_campaign(campaign)
    db.session.commit()
    sending.plan_campaign(campaign.id)
    campaigns.cancel_campaign(db.session.get(Campaign, campaign.id))
    db.session.commit()
    assert open_count_is_exact(campaign) and {d.status for d in deliveries(campaign)} == {"skipped"}
    with pytest.raises(CampaignError, match="cancelled"):
        sending.requeue_uncertain(campaign.id)
