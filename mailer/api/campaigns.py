"""Campaigns: status, sending progress, deliveries per state
with their reasons; uncertain ones listed and resent."""

from flask import g, jsonify, request
from sqlalchemy import select

from mailer.api.blueprint import api_route
from mailer.api.errors import ApiError
from mailer.api.inputs import invalid, json_object, keyset_page, page_args, refuse_unknown, string_list
from mailer.api.serializers import campaign_json, uncertain_json
from mailer.campaigns import lifecycle as campaign_service
from mailer.campaigns.models import CAMPAIGN_STATUSES, JOURNEY_STEP_STATUS, Campaign
from mailer.campaigns.resend import MAX_CHOSEN, ResendError, resend_uncertain
from mailer.core.extensions import db
from mailer.delivery import report as delivery_report


@api_route("/campaigns")
def campaigns_index():
    """Campaigns, oldest first, optionally only those in one status."""
    after, limit = page_args()
    query = select(Campaign).where(Campaign.status != JOURNEY_STEP_STATUS)  # journeys' steps: their own API
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
    campaign = _campaign_or_404(public_id)
    report = delivery_report.states_json(delivery_report.state_report(campaign.id))
    return jsonify(campaign_json(campaign, campaign_service.progress(campaign), report))


def _campaign_or_404(public_id: str) -> Campaign:
    campaign = db.session.execute(
        select(Campaign).where(Campaign.public_id == public_id)
    ).scalar_one_or_none()
    if campaign is None:
        raise ApiError(404, "There is no campaign with this id.", {"campaign_id": public_id[:64]})
    return campaign


def _delivery_ids(values: list[str], field: str) -> list[int]:
    if not all(value.isdigit() and len(value) <= 18 for value in values):
        raise invalid(field, "each must be a delivery id given out by GET /campaigns/{public_id}/uncertain")
    return [int(value) for value in values]


@api_route("/campaigns/<public_id>/uncertain")
def campaign_uncertain(public_id: str):
    """The campaign's uncertain deliveries, oldest first (contacts by public id only)."""
    after, limit = page_args()
    campaign = _campaign_or_404(public_id)
    after_id = _delivery_ids([after], "after")[0] if after is not None else 0
    rows, next_after = delivery_report.uncertain_page(campaign.id, after_id, limit)
    return jsonify(
        data=[uncertain_json(row) for row in rows],
        next_cursor=str(next_after) if next_after is not None else None,
    )


@api_route("/campaigns/<public_id>/uncertain/resend", methods=("POST",))
def campaign_uncertain_resend(public_id: str):
    """Send uncertain deliveries again (all, or the ones named): the recipients may get the message twice."""
    body = json_object()
    refuse_unknown(body, {"all", "deliveries"})
    chosen = string_list(body, "deliveries", max_items=MAX_CHOSEN)
    if "all" in body and body["all"] is not True:
        raise invalid("all", "must be true (or leave it out and name the deliveries)")
    if (chosen is None) == ("all" not in body):
        raise invalid("body", 'send either "all": true or "deliveries": [ids], not both and not neither')
    ids = _delivery_ids(chosen, "deliveries") if chosen is not None else None
    if ids == []:
        raise invalid("deliveries", "name at least one delivery")
    campaign = _campaign_or_404(public_id)
    try:
        count = resend_uncertain(campaign, ids, ip=request.remote_addr, via="api", api_key=g.api_key.prefix)
    except ResendError as exc:
        raise ApiError(409, str(exc), {"status": campaign.status}) from None
    db.session.refresh(campaign)
    return jsonify(resent=count, status=campaign.status)
