"""Reads of tracking events other domains ask for (through hooks the factory connects)."""

from datetime import datetime

from sqlalchemy import Select, select

from mailer.campaigns.models import Campaign
from mailer.core.extensions import db
from mailer.tracking.models import TrackingEvent


def contacts_with_activity(kind: str, campaign: str | None, since: datetime | None) -> Select | None:
    """The ids of contacts who opened or clicked (one campaign by public id, or any since a time), machines
    left out; None when there is no such campaign.

    Events exist only for contacts who consented to that tracking; who did not is for the caller to say.
    """
    query = select(TrackingEvent.contact_id).where(
        TrackingEvent.kind == kind, TrackingEvent.machine.is_(False)
    )
    if campaign is not None:
        campaign_id = db.session.execute(
            select(Campaign.id).where(Campaign.public_id == campaign)
        ).scalar_one_or_none()
        if campaign_id is None:
            return None
        query = query.where(TrackingEvent.campaign_id == campaign_id)
    if since is not None:
        query = query.where(TrackingEvent.created_at >= since)
    return query
