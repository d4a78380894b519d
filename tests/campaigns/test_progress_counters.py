"""A campaign's page reads its delivery totals from the counter table once it is not sending: the numbers
equal a count of its deliveries."""

from collections import Counter

from sqlalchemy import func, select, update

from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns import sending
from mailer.campaigns.models import CampaignStatus
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery import report
from mailer.delivery.models import Delivery
from tests.support.campaigns import deliveries, newsletter


def _live(campaign_id: int) -> dict[str, int]:
    rows = db.session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.campaign_id == campaign_id)
        .group_by(Delivery.status)
    ).all()
    return dict(rows)


def test_a_finished_campaigns_totals_equal_a_count_of_its_deliveries(app, app_ctx):
    campaign, _ = newsletter(12)
    campaigns.start_campaign(campaign)
    db.session.commit()
    sending.plan_campaign(campaign.id)
    ids = [d.id for d in deliveries(campaign)]
    now = utcnow()
    db.session.execute(
        update(Delivery).where(Delivery.id.in_(ids[:7])).values(status="sent", finished_at=now)
    )
    db.session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids[7:10]))
        .values(status="failed", reason="550 mailbox unavailable", finished_at=now)
    )
    db.session.execute(
        update(Delivery).where(Delivery.id.in_(ids[10:])).values(status="skipped", reason="unsubscribed")
    )
    campaign.status, campaign.finished_at = CampaignStatus.SENT, now
    db.session.commit()

    live = _live(campaign.id)
    assert live == {"sent": 7, "failed": 3, "skipped": 2}
    shown = campaigns.progress(campaign)
    assert (shown["sent"], shown["remaining"]) == (7, 0)
    rows = {row["status"]: row["count"] for row in report.state_report(campaign.id) if row["count"]}
    assert rows == live
    failed = next(row for row in report.state_report(campaign.id) if row["status"] == "failed")
    assert failed["reasons"] == [{"reason": "550 mailbox unavailable", "count": 3}]

    # a late change (a bounce turns a sent message into a failed one) shows at once
    db.session.execute(update(Delivery).where(Delivery.id == ids[0]).values(status="bounced"))
    db.session.commit()
    counts = Counter({row["status"]: row["count"] for row in report.state_report(campaign.id)})
    assert +counts == Counter(_live(campaign.id))
