"""The latest campaigns' results for the dashboard, read from the counter tables and indexed events only.

The dashboard is the most viewed page, so nothing here reads every delivery of a campaign: outcomes come from
the delivery counter table (a handful of delta rows per campaign), opens and clicks from the tracking events
of the campaign (index on campaign and kind; they exist only for contacts who consented to tracking), and
unsubscribes from the consent events of the campaign (an expression index on the campaign they came through).
The campaign's own stats page adds the rates among consenting recipients, which need the deliveries joined.
"""

from dataclasses import dataclass

from sqlalchemy import distinct, func, select

from mailer.analytics.campaigns import LEAVING
from mailer.campaigns.models import Campaign
from mailer.consent.models import ConsentEvent
from mailer.core import counters
from mailer.core.extensions import db
from mailer.tracking.models import TrackingEvent


@dataclass
class CampaignResult:
    """One campaign's outcome so far: what went out and what came back."""

    campaign: Campaign
    sent: int  # messages handed to the relay or given up on (everything but queued and sending)
    delivered: int
    bounced: int
    opened: int  # distinct people, human opens, among those who consented to open tracking
    clicked: int  # likewise for clicks
    unsubscribed: int


def _distinct_trackers(ids: list[int]) -> dict[tuple[int, str], int]:
    query = (
        select(TrackingEvent.campaign_id, TrackingEvent.kind, func.count(distinct(TrackingEvent.contact_id)))
        .where(TrackingEvent.campaign_id.in_(ids), TrackingEvent.machine.is_(False))
        .group_by(TrackingEvent.campaign_id, TrackingEvent.kind)
    )
    return {(campaign_id, kind): n for campaign_id, kind, n in db.session.execute(query)}


def _unsubscribed(public_ids: list[str]) -> dict[str, int]:
    """Distinct people who left through each campaign's links (complaints apart, as on the stats page)."""
    through = ConsentEvent.details["campaign"].as_string()
    reason = ConsentEvent.details["reason"].as_string()
    query = (
        select(through, func.count(distinct(ConsentEvent.contact_id)))
        .where(through.in_(public_ids), ConsentEvent.action.in_(LEAVING))
        .where((reason.is_(None)) | (reason != "complaint"))
        .group_by(through)
    )
    return {public_id: int(n) for public_id, n in db.session.execute(query)}


def latest_results(limit: int = 5) -> list[CampaignResult]:
    """The campaigns that started sending most recently, newest first, with their results so far."""
    campaigns = (
        db.session.execute(
            select(Campaign)
            .where(Campaign.started_at.is_not(None))
            .order_by(Campaign.started_at.desc(), Campaign.id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )
    if not campaigns:
        return []
    ids = [c.id for c in campaigns]
    engaged = _distinct_trackers(ids)
    left = _unsubscribed([c.public_id for c in campaigns])
    results = []
    for c in campaigns:
        counts = {status: n for (status,), n in counters.totals("delivery_counts", campaign_id=c.id).items()}
        results.append(
            CampaignResult(
                campaign=c,
                sent=sum(n for status, n in counts.items() if status not in ("queued", "sending")),
                delivered=counts.get("sent", 0),
                bounced=counts.get("bounced", 0),
                opened=engaged.get((c.id, "open"), 0),
                clicked=engaged.get((c.id, "click"), 0),
                unsubscribed=left.get(c.public_id, 0),
            )
        )
    return results
