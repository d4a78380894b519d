"""Campaigns through the API as in the admin: create and edit drafts, send a test, schedule, send now,
pause, resume, cancel, unschedule. Every rule is the admin's (campaigns.drafts and campaigns.lifecycle);
the numbers are GET /campaigns/{public_id}."""

from flask import g
from marshmallow import validate

from mailer.api.campaigns import campaign_or_404
from mailer.api.errors import TEST_SENDS_SPENT, ApiError, refuse_when_test_sends_spent
from mailer.api.fields import Flag, RequestSchema, Text, TextList
from mailer.api.inputs import ids_of, invalid
from mailer.api.routing import api_route
from mailer.api.schemas import CampaignSchema
from mailer.api.serializers import campaign_json
from mailer.campaigns import drafts
from mailer.campaigns import lifecycle as campaign_service
from mailer.campaigns.models import Campaign, Layout
from mailer.core import test_sends
from mailer.core.extensions import db
from mailer.segments.models import Segment
from mailer.subscriptions.models.lists import MailingList

# API field -> the editor's field, for what the caller sends and for the messages the draft rules give back.
ID_FIELDS = {"layout": "layout_id", "lists": "list_ids", "exclusion_lists": "exclusion_list_ids"}
ID_FIELDS["segments"] = "segment_ids"
TEXT_FIELDS = ("name", "subject", "preheader", "from_name", "from_email", "reply_to", "body", "text_body")
CONFLICT = {409: "The campaign is not in a state that allows this (the message says which it is in)."}


class CampaignWrite(RequestSchema):
    """A draft's content and audience; on PATCH, only what changes."""

    name = Text(metadata={"maxLength": 200})
    subject = Text()
    preheader = Text()
    from_name = Text()
    from_email = Text()
    reply_to = Text()
    body_format = Text(validate=validate.OneOf(["markdown", "html"], error="must be markdown or html"))
    body = Text(multiline=True)
    text_body = Text(multiline=True)
    layout = Text(metadata={"description": "A layout's public id."})
    lists = TextList(max_items=50, metadata={"description": "Public ids of the lists it is sent to."})
    exclusion_lists = TextList(max_items=50, metadata={"description": "Lists whose members never get it."})
    segments = TextList(max_items=50, metadata={"description": "Public ids of saved segments it is sent to."})
    track_opens = Flag()
    track_clicks = Flag()


class TestSend(RequestSchema):
    addresses = TextList(required=True, max_items=10, metadata={"minItems": 1})


class ScheduleRequest(RequestSchema):
    send_at = Text(required=True, metadata={"description": "Wall-clock time YYYY-MM-DDTHH:MM in `timezone`."})
    timezone = Text(required=True, metadata={"description": "An IANA time zone, e.g. Europe/Rome."})


def _fields(body: dict, base: drafts.DraftFields) -> drafts.DraftFields:
    """The editor's fields: the draft as it is, with what the caller sent."""
    for name in (*TEXT_FIELDS, "body_format", "track_opens", "track_clicks"):
        if name in body:
            setattr(base, name, body[name])
    if "layout" in body:
        base.layout_id = ids_of(Layout, [body["layout"]], "layout")[0]
    if "lists" in body:
        base.list_ids = ids_of(MailingList, body["lists"], "lists")
    if "exclusion_lists" in body:
        base.exclusion_list_ids = ids_of(MailingList, body["exclusion_lists"], "exclusion_lists")
    if "segments" in body:
        base.segment_ids = ids_of(Segment, body["segments"], "segments")
    return base


def _draft_error(exc: drafts.DraftError) -> ApiError:
    back = {editor: api for api, editor in ID_FIELDS.items()}
    db.session.rollback()
    return ApiError(422, "Some values are not valid.", {back.get(k, k): v for k, v in exc.errors.items()})


@api_route(
    "/campaigns",
    ("POST",),
    body=CampaignWrite,
    responses={201: CampaignSchema},
    operation_id="createCampaign",
)
def campaign_create(body: dict):
    """Create a draft campaign

    The editor's rules: name, subject, body, a layout and at least one list or segment are needed; the
    sender defaults to the organisation's. 422 names each field that is wrong.
    """
    return create_campaign(body, drafts.DraftFields()), 201


def create_campaign(body: dict, base: drafts.DraftFields) -> dict:
    """A new draft from `base` (empty, or a gallery template's fields) with what the caller sent; the sender
    is the organisation's unless the caller names one."""
    base.from_name, base.from_email = drafts.default_sender()
    try:
        campaign = drafts.create_draft(_fields(body, base))
    except drafts.DraftError as exc:
        raise _draft_error(exc) from None
    db.session.commit()
    return campaign_json(campaign)


@api_route(
    "/campaigns/<public_id>",
    ("PATCH",),
    body=CampaignWrite,
    responses={200: CampaignSchema},
    operation_id="updateCampaign",
)
def campaign_update(public_id: str, body: dict):
    """Change a draft campaign

    Only drafts can be edited (a scheduled one: unschedule it first); fields left out stay as they are.
    """
    campaign = campaign_or_404(public_id)
    if not body:
        raise ApiError(422, "Nothing to change: send at least one field.")
    try:
        drafts.update_draft(campaign, _fields(body, drafts.draft_from_campaign(campaign)))
    except drafts.DraftError as exc:
        raise _draft_error(exc) from None
    db.session.commit()
    return campaign_json(campaign)


def _act(public_id: str, change) -> Campaign:
    return _apply(campaign_or_404(public_id), change)


def _apply(campaign: Campaign, change) -> Campaign:
    try:
        change(campaign)
    except campaign_service.CampaignError as exc:
        db.session.rollback()
        raise ApiError(409, str(exc), {"status": campaign.status}) from None
    db.session.commit()
    db.session.refresh(campaign)
    return campaign


@api_route(
    "/campaigns/<public_id>/test",
    ("POST",),
    body=TestSend,
    responses={202: CampaignSchema},
    errors={
        409: "The campaign can't be sent yet (no postal address, no layout, a template error …).",
        429: TEST_SENDS_SPENT,
    },
    operation_id="sendCampaignTest",
)
def campaign_test(public_id: str, body: dict):
    """Send a test of the campaign

    Marked "[TEST]", to at most 10 addresses; it goes out through the same composer and relay as the real
    send. Each test spends one of the key's creator's test sends (TEST_SEND_RATE_LIMIT, shared with the
    admin and every kind of test); once they are spent, 429 with Retry-After.
    """
    campaign = campaign_or_404(public_id)  # an unknown campaign is a 404, whatever the budget (as the others)
    refuse_when_test_sends_spent()
    _apply(campaign, lambda c: campaign_service.send_test(c, body["addresses"]))
    test_sends.spend()
    return campaign_json(campaign), 202


@api_route(
    "/campaigns/<public_id>/send",
    ("POST",),
    responses={202: CampaignSchema},
    errors=CONFLICT,
    operation_id="sendCampaign",
)
def campaign_send(public_id: str):
    """Send a campaign now

    The compliance preview is taken and stored, the email compiled once, and sending starts; eligibility is
    checked again for each recipient when their message is sent.
    """
    return campaign_json(_act(public_id, campaign_service.start_campaign)), 202


@api_route(
    "/campaigns/<public_id>/schedule",
    ("POST",),
    body=ScheduleRequest,
    responses={200: CampaignSchema},
    errors=CONFLICT,
    operation_id="scheduleCampaign",
)
def campaign_schedule(public_id: str, body: dict):
    """Schedule a draft campaign

    `send_at` is read as wall-clock time in `timezone`; the scheduler starts it when due.
    """
    try:
        local, utc = drafts.parse_schedule(body["send_at"], body["timezone"])
    except drafts.DraftError as exc:
        raise _draft_error(exc) from None
    if drafts.is_past(utc):
        raise invalid("send_at", "That time has already passed. Choose a time in the future.")
    return campaign_json(
        _act(public_id, lambda c: campaign_service.schedule_campaign(c, local, body["timezone"]))
    )


def _state_route(action: str, change, summary: str, operation_id: str):
    def view(public_id: str):
        return campaign_json(_act(public_id, change))

    view.__name__ = f"campaign_{action}"
    view.__doc__ = summary
    return api_route(
        f"/campaigns/<public_id>/{action}",
        ("POST",),
        responses={200: CampaignSchema},
        errors=CONFLICT,
        operation_id=operation_id,
    )(view)


campaign_pause = _state_route(
    "pause",
    campaign_service.pause_campaign,
    "Pause a sending campaign (what is queued stays)",
    "pauseCampaign",
)
campaign_resume = _state_route(
    "resume", campaign_service.resume_campaign, "Resume a paused campaign", "resumeCampaign"
)
campaign_cancel = _state_route(
    "cancel", campaign_service.cancel_campaign, "Cancel a campaign (nothing queued is sent)", "cancelCampaign"
)
campaign_unschedule = _state_route(
    "unschedule",
    campaign_service.unschedule_campaign,
    "Take a scheduled campaign back to draft",
    "unscheduleCampaign",
)


@api_route(
    "/campaigns/<public_id>/copy",
    ("POST",),
    responses={201: CampaignSchema},
    operation_id="copyCampaign",
)
def campaign_copy(public_id: str):
    """Copy a campaign into a new draft

    As the admin's Copy: a new draft "Copy of …" with the campaign's content, layout, sender, audience,
    tracking and relay (not its sending state or schedule), made by the key's creator. Any campaign can be
    copied, also one that was sent.
    """
    campaign = campaign_or_404(public_id)
    copy = drafts.duplicate_campaign(campaign, g.api_key.created_by_id)
    db.session.commit()
    return campaign_json(copy), 201


@api_route(
    "/campaigns/<public_id>",
    ("DELETE",),
    responses={204: None},
    errors={409: "Only drafts that were never sent can be deleted."},
    operation_id="deleteCampaign",
)
def campaign_delete(public_id: str):
    """Delete a draft that never sent

    As the admin's Delete: a draft that never started sending goes for good; any other campaign is a 409.
    """
    campaign = campaign_or_404(public_id)
    try:
        drafts.delete_draft(campaign)
    except drafts.DraftError as exc:
        db.session.rollback()
        raise ApiError(409, " ".join(exc.errors.values()), {"status": campaign.status}) from None
    db.session.commit()
    return None, 204
