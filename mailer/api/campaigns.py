"""GET /campaigns and GET /campaigns/<id>: status, sending progress, and deliveries per state with their reasons."""
from flask import jsonify, request
from sqlalchemy import select

from mailer.api import api_route
from mailer.api.errors import ApiError
from mailer.api.inputs import invalid, keyset_page, page_args
from mailer.api.serializers import campaign_json
from mailer.extensions import db
from mailer.models import Campaign
from mailer.models.campaign import CAMPAIGN_STATUSES
from mailer.services import campaigns as campaign_service
from mailer.services import delivery_report


@api_route("/campaigns")
def campaigns_index():
    """Campaigns, oldest first, optionally only those in one status."""
    after, limit = page_args()
    query = select(Campaign)
    status = request.args.get("status")
    if status is not None:
        if status not in CAMPAIGN_STATUSES:
            raise invalid("status", "must be one of " + ", ".join(CAMPAIGN_STATUSES))
        query = query.where(Campaign.status == status)
    rows, next_cursor = keyset_page(query, Campaign, Campaign.public_id, after, limit)
    return jsonify(data=[campaign_json(c) for c in rows], next_cursor=next_cursor)


@api_route("/campaigns/<public_id>")
def campaign_show(public_id: str):
    """One campaign with its delivery numbers: progress, and per delivery state how many and why."""
    campaign = db.session.execute(select(Campaign).where(Campaign.public_id == public_id)).scalar_one_or_none()
    if campaign is None:
        raise ApiError(404, "There is no campaign with this id.", {"campaign_id": public_id[:64]})
    report = delivery_report.states_json(delivery_report.state_report(campaign.id))
    return jsonify(campaign_json(campaign, campaign_service.progress(campaign), report))
