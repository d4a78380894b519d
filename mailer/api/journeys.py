"""Journeys through the API: list them, and enrol a contact into a journey started by an API call."""

from marshmallow import Schema, fields
from sqlalchemy import select

from mailer.api.contacts import contact_by_public_id
from mailer.api.errors import ApiError
from mailer.api.fields import RequestSchema, Text, page_of, public_id
from mailer.api.inputs import PageQuery, paged
from mailer.api.routing import api_route
from mailer.api.schemas import one_of
from mailer.campaigns.eligibility import reasons_on_list
from mailer.core.extensions import db
from mailer.journeys import operations as journeys
from mailer.journeys.models import Journey, JourneyStatus, Trigger


class JourneySchema(Schema):
    id = public_id()
    name = fields.String()
    status = one_of(JourneyStatus)
    trigger = one_of(Trigger)
    list_id = public_id(metadata={"description": "The list the journey's emails are sent for."})
    reentry = fields.Boolean()
    steps = fields.Integer()


JourneyPageSchema = page_of(JourneySchema, "JourneyPage")


class EnrolRequest(RequestSchema):
    contact_id = Text(required=True, metadata={"description": "The contact's public id."})


class EnrolResultSchema(Schema):
    enrolled = fields.Boolean()
    round = fields.Integer(metadata={"description": "The contact's how-many-th time through it."})
    reason = fields.String(metadata={"description": "Why nobody new entered (200 only)."})


def _journey_json(journey: Journey) -> dict:
    return {
        "id": journey.public_id,
        "name": journey.name,
        "status": journey.status,
        "trigger": journey.trigger,
        "list_id": journey.mailing_list.public_id,
        "reentry": journey.reentry,
        "steps": len(journey.steps),
    }


@api_route("/journeys", query=PageQuery, responses={200: JourneyPageSchema}, operation_id="listJourneys")
def journeys_index(query: dict):
    """Journeys (automations)

    In id order, a keyset page at a time.
    """
    return paged(query, select(Journey), Journey, Journey.public_id, _journey_json)


@api_route(
    "/journeys/<public_id>/enrol",
    ("POST",),
    body=EnrolRequest,
    responses={202: EnrolResultSchema, 200: EnrolResultSchema},
    errors={409: "The journey has another trigger, or the contact may not receive its email."},
    operation_id="enrolContact",
)
def journey_enrol(public_id: str, body: dict):
    """Start a contact on a journey whose trigger is an API call

    202 when enrolled (the first step runs on the next pass); 200 when they are already in it or it allows no
    re-entry. The contact must be able to receive the journey's email now (subscribed to its list, consent
    granted, not objected, restricted, erased or suppressed): the same rule as campaigns, checked again
    before every step.
    """
    contact_id = body["contact_id"]
    journey = db.session.execute(
        select(Journey).where(Journey.public_id == public_id[:32])
    ).scalar_one_or_none()
    if journey is None:
        raise ApiError(404, "There is no journey with this id.", {"journey_id": public_id[:64]})
    if journey.trigger != Trigger.API:
        raise ApiError(
            409, "This journey starts on its own trigger, not by an API call.", {"trigger": journey.trigger}
        )
    contact = contact_by_public_id(contact_id[:64])
    reason = reasons_on_list(journey.list_id, [contact.id])[contact.id]
    if reason:
        raise ApiError(
            409,
            "This contact may not receive this journey's email (the same rule as campaigns).",
            {"reason": reason},
        )
    enrolment = journeys.enrol(journey, contact.id, "api")
    db.session.commit()
    if enrolment is None:
        return {"enrolled": False, "reason": "already in it, or it allows no re-entry"}, 200
    return {"enrolled": True, "round": enrolment.round}, 202
