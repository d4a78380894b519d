"""Campaigns: status, sending progress, deliveries per state
with their reasons; uncertain ones listed and resent."""

from flask import g, request
from marshmallow import validate
from sqlalchemy import select

from mailer.api.errors import ApiError
from mailer.api.fields import Flag, RequestSchema, Text, TextList
from mailer.api.inputs import PageQuery, invalid, page_args, paged
from mailer.api.routing import api_route
from mailer.api.schemas import (
    CampaignPageSchema,
    CampaignSchema,
    ResendResultSchema,
    UncertainDeliveryPageSchema,
)
from mailer.api.serializers import campaign_json, uncertain_json
from mailer.campaigns import lifecycle as campaign_service
from mailer.campaigns.models import CAMPAIGN_STATUSES, JOURNEY_STEP_STATUS, Campaign
from mailer.campaigns.resend import MAX_CHOSEN, ResendError, resend_uncertain
from mailer.core.extensions import db
from mailer.delivery import report as delivery_report


class CampaignQuery(PageQuery):
    status = Text(
        validate=validate.OneOf(CAMPAIGN_STATUSES, error="must be one of " + ", ".join(CAMPAIGN_STATUSES)),
        metadata={"description": "Only campaigns in this status."},
    )


class ResendRequest(RequestSchema):
    """Either every uncertain delivery of the campaign (`"all": true`), or the ones named."""

    all = Flag(metadata={"description": "true: every uncertain delivery of the campaign."})
    deliveries = TextList(
        max_items=MAX_CHOSEN, metadata={"description": "Ids from GET /campaigns/{public_id}/uncertain."}
    )


@api_route(
    "/campaigns", query=CampaignQuery, responses={200: CampaignPageSchema}, operation_id="listCampaigns"
)
def campaigns_index(query: dict):
    """Campaigns and their status

    Campaigns, oldest first, optionally only those in one status.
    """
    rows_query = select(Campaign).where(Campaign.status != JOURNEY_STEP_STATUS)  # journeys' steps: their API
    if "status" in query:
        rows_query = rows_query.where(Campaign.status == query["status"])
    return paged(query, rows_query, Campaign, Campaign.public_id, campaign_json)


@api_route(
    "/campaigns/<public_id>",
    responses={200: CampaignSchema},
    operation_id="getCampaign",
)
def campaign_show(public_id: str):
    """One campaign with sending progress

    Its progress, and per delivery state how many and why.
    """
    campaign = campaign_or_404(public_id)
    report = delivery_report.states_json(delivery_report.state_report(campaign.id))
    return campaign_json(campaign, campaign_service.progress(campaign), report)


def campaign_or_404(public_id: str) -> Campaign:
    campaign = db.session.execute(
        select(Campaign).where(Campaign.public_id == public_id, Campaign.status != JOURNEY_STEP_STATUS)
    ).scalar_one_or_none()
    if campaign is None:
        raise ApiError(404, "There is no campaign with this id.", {"campaign_id": public_id[:64]})
    return campaign


def _delivery_ids(values: list[str], field: str) -> list[int]:
    if not all(value.isdigit() and len(value) <= 18 for value in values):
        raise invalid(field, "each must be a delivery id given out by GET /campaigns/{public_id}/uncertain")
    return [int(value) for value in values]


@api_route(
    "/campaigns/<public_id>/uncertain",
    query=PageQuery,
    responses={200: UncertainDeliveryPageSchema},
    operation_id="listUncertainDeliveries",
)
def campaign_uncertain(public_id: str, query: dict):
    """A campaign's uncertain deliveries

    Deliveries a worker was handing to the relay when it stopped: the relay may or may not have received
    them. They are never resent by themselves. Oldest first; contacts by public id only.
    """
    after, limit = page_args(query)
    campaign = campaign_or_404(public_id)
    after_id = _delivery_ids([after], "after")[0] if after is not None else 0
    rows, next_after = delivery_report.uncertain_page(campaign.id, after_id, limit)
    return {
        "data": [uncertain_json(row) for row in rows],
        "next_cursor": str(next_after) if next_after is not None else None,
    }


@api_route(
    "/campaigns/<public_id>/uncertain/resend",
    ("POST",),
    body=ResendRequest,
    responses={200: ResendResultSchema},
    errors={409: "The campaign is a draft, scheduled or cancelled: nothing of it can be sent again."},
    operation_id="resendUncertainDeliveries",
)
def campaign_uncertain_resend(public_id: str, body: dict):
    """Send uncertain deliveries again

    An explicit decision: resending may deliver twice. Audited. Eligibility is checked again for each
    recipient when it is sent.
    """
    chosen = body.get("deliveries")
    if "all" in body and body["all"] is not True:
        raise invalid("all", "must be true (or leave it out and name the deliveries)")
    if (chosen is None) == ("all" not in body):
        raise invalid("body", 'send either "all": true or "deliveries": [ids], not both and not neither')
    ids = _delivery_ids(chosen, "deliveries") if chosen is not None else None
    if ids == []:
        raise invalid("deliveries", "name at least one delivery")
    campaign = campaign_or_404(public_id)
    try:
        count = resend_uncertain(campaign, ids, ip=request.remote_addr, via="api", api_key=g.api_key.prefix)
    except ResendError as exc:
        raise ApiError(409, str(exc), {"status": campaign.status}) from None
    db.session.refresh(campaign)
    return {"resent": count, "status": campaign.status}
