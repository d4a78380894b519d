"""The live rate is that of the recent past, so the ETA stays honest after a slow start or a pause."""

from datetime import timedelta

from sqlalchemy import update

from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns import sending
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery.models import Delivery
from tests.support.campaigns import deliveries, newsletter


def test_rate_and_eta_follow_the_last_minute_not_the_average_since_the_start(app, app_ctx):
    campaign, _ = newsletter(30)
    campaigns.start_campaign(campaign)
    db.session.commit()
    sending.plan_campaign(campaign.id)  # the deliveries exist, nothing sent yet
    ids = [d.id for d in deliveries(campaign)]
    now = utcnow()
    campaign.started_at = now - timedelta(hours=1)
    # 10 sent long ago (a slow start), 12 in the last minute, 8 left.
    db.session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids[:10]))
        .values(status="sent", finished_at=now - timedelta(minutes=50))
    )
    db.session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids[10:22]))
        .values(status="sent", finished_at=now - timedelta(seconds=20))
    )
    db.session.commit()

    live = campaigns.progress(campaign)
    assert live["status"] == "sending" and live["sent"] == 22 and live["remaining"] == 8
    assert live["rate_per_s"] == 0.2  # 12 in the last 60 s, not 22 in an hour (0.006/s)
    assert live["eta_s"] == 40
