"""Journeys through the API, the rest of the builder: a test run of every email to one address, and a
contact's path through their journeys (the timeline on the contact's admin page)."""

from marshmallow import Schema, fields

from mailer.api.contacts import contact_by_public_id
from mailer.api.errors import TEST_SENDS_SPENT, ApiError, refuse_when_test_sends_spent
from mailer.api.fields import RequestSchema, Text, public_id, timestamp
from mailer.api.journeys import journey_by_public_id
from mailer.api.routing import api_route
from mailer.api.serializers import iso
from mailer.campaigns.rendering import CampaignError
from mailer.core import test_sends
from mailer.core.extensions import db
from mailer.journeys import operations as journeys
from mailer.journeys import queries
from mailer.journeys.queries import Path
from mailer.journeys.steps import JourneyError


class TestRunRequest(RequestSchema):
    address = Text(
        required=True,
        max_length=320,
        metadata={"description": "Where every email of the journey goes, marked as a test."},
    )


class TestRunSchema(Schema):
    queued = fields.Integer(metadata={"description": "How many test emails are on their way (one per step)."})


class PathEventSchema(Schema):
    at = timestamp()
    kind = fields.String(
        metadata={"description": "entered, sent, waited, branched, tagged, exited or done (at a step)."}
    )
    step_id = fields.String(allow_none=True, metadata={"description": "The step's id within its journey."})
    step_position = fields.Integer(allow_none=True, metadata={"description": "0 is the first step."})
    detail = fields.String(metadata={"description": "What happened there, e.g. why the contact left."})


class PathSchema(Schema):
    journey_id = public_id()
    journey_name = fields.String()
    round = fields.Integer(metadata={"description": "The contact's how-many-th time through the journey."})
    state = fields.String(metadata={"description": "active (on the way), done or exited."})
    step_id = fields.String(allow_none=True, metadata={"description": "While active: the step to run next."})
    due_at = timestamp("While active: when the next step runs.")
    exit_reason = fields.String(metadata={"description": "Why the contact left (empty otherwise)."})
    entered_at = timestamp()
    finished_at = timestamp()
    events = fields.List(fields.Nested(PathEventSchema))


class PathListSchema(Schema):
    data = fields.List(fields.Nested(PathSchema))


class PathQuery(RequestSchema):
    journey_id = Text(max_length=64, metadata={"description": "Only the paths through this journey."})


@api_route(
    "/journeys/<public_id>/test",
    ("POST",),
    body=TestRunRequest,
    responses={202: TestRunSchema},
    errors={
        409: "The journey has no email step yet.",
        422: "The address is not valid, or a step's email can't be sent as it is; the message says which.",
        429: TEST_SENDS_SPENT,
    },
    operation_id="testJourney",
)
def journey_test(public_id: str, body: dict):
    """Test run: every email of the journey to one address

    The builder's test run: each send step's email, in order, marked "[TEST]", built and sent as the real
    ones (layout, relay); nobody enters the journey and nothing is counted. A run spends one of the key's
    creator's test sends (TEST_SEND_RATE_LIMIT, shared with the admin and every kind of test); once they are
    spent, 429 with Retry-After.
    """
    journey = journey_by_public_id(public_id)
    refuse_when_test_sends_spent()
    try:
        queued = journeys.send_test_run(journey, body["address"])
    except (JourneyError, CampaignError) as exc:
        db.session.rollback()
        raise ApiError(422, str(exc), {"address": body["address"][:320]}) from None
    if not queued:
        db.session.rollback()
        raise ApiError(409, "This journey has no email step yet.")
    db.session.commit()
    test_sends.spend()
    return {"queued": queued}, 202


def _path_json(path: Path) -> dict:
    positions = {step.id: step.position for step in path.journey.steps}
    enrolment = path.enrolment
    return {
        "journey_id": path.journey.public_id,
        "journey_name": path.journey.name,
        "round": enrolment.round,
        "state": enrolment.state,
        "step_id": str(enrolment.step_id) if enrolment.step_id is not None else None,
        "due_at": iso(enrolment.due_at) if enrolment.finished_at is None else None,
        "exit_reason": enrolment.exit_reason,
        "entered_at": iso(enrolment.entered_at),
        "finished_at": iso(enrolment.finished_at),
        "events": [
            {
                "at": iso(event.at),
                "kind": event.kind,
                "step_id": str(event.step_id) if event.step_id is not None else None,
                "step_position": positions.get(event.step_id) if event.step_id is not None else None,
                "detail": event.detail,
            }
            for event in path.events
        ],
    }


@api_route(
    "/contacts/<public_id>/journeys",
    query=PathQuery,
    responses={200: PathListSchema},
    operation_id="listContactJourneys",
)
def contact_journeys(public_id: str, query: dict):
    """A contact's paths through journeys

    Every journey the contact entered (newest first; one path per time through it) with each step taken, as
    on the contact's admin page: entered, sent, waited, branched, tagged, exited (and why) or done.
    """
    contact = contact_by_public_id(public_id[:64])
    paths = queries.contact_paths(contact.id)
    if "journey_id" in query:
        paths = [path for path in paths if path.journey.public_id == query["journey_id"]]
    return {"data": [_path_json(path) for path in paths]}
