"""Journeys through the API: list them, and enrol a contact into a journey started by an API call."""

from flask import jsonify
from sqlalchemy import select

from mailer.api.blueprint import api_route
from mailer.api.contacts import contact_by_public_id
from mailer.api.errors import ApiError
from mailer.api.inputs import json_object, keyset_page, page_args, refuse_unknown, string
from mailer.campaigns.eligibility import reasons_on_list
from mailer.core.extensions import db
from mailer.journeys import operations as journeys
from mailer.journeys.models import Journey, Trigger


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


@api_route("/journeys")
def journeys_index():
    """Journeys, in id order, a keyset page at a time."""
    after, limit = page_args()
    rows, next_cursor = keyset_page(select(Journey), Journey, Journey.public_id, after, limit)
    return jsonify(data=[_journey_json(j) for j in rows], next_cursor=next_cursor)


@api_route("/journeys/<public_id>/enrol", methods=("POST",))
def journey_enrol(public_id: str):
    """Start a contact on a journey whose trigger is an API call (202; 200 when they are already in it)."""
    body = json_object()
    refuse_unknown(body, {"contact_id"})
    contact_id = string(body, "contact_id", required=True)
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
        return jsonify(enrolled=False, reason="already in it, or it allows no re-entry"), 200
    return jsonify(enrolled=True, round=enrolment.round), 202
