"""Journeys through the API: list them, and enrol a contact into a journey started by an API call."""

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from mailer.api.contacts import contact_by_public_id
from mailer.api.errors import ApiError
from mailer.api.fields import Flag, RequestSchema, Text, page_of, public_id
from mailer.api.inputs import PageQuery, id_named, ids_of, invalid, paged
from mailer.api.routing import api_route
from mailer.api.schemas import one_of
from mailer.campaigns.eligibility import reasons_on_list
from mailer.campaigns.models import Layout
from mailer.campaigns.rendering import CampaignError
from mailer.contacts.fields import field_by_key
from mailer.contacts.models.tags import Tag
from mailer.contacts.tags import tag_by_name
from mailer.core.extensions import db
from mailer.delivery.relays import Relay
from mailer.journeys import operations as journeys
from mailer.journeys import queries
from mailer.journeys.models import Journey, JourneyStatus, JourneyStep, StepKind, Trigger
from mailer.journeys.queries import StepStats
from mailer.journeys.steps import JourneyError, StepInput, describe
from mailer.segments.models import Segment
from mailer.subscriptions.models.lists import MailingList


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


# --- editing: the journey builder's operations (mailer.journeys.operations) ---------------------------------

STEP_KINDS = tuple(str(kind) for kind in StepKind)
REFUSED = {422: "A value is not valid, or a rule of journeys refuses it; the message says which."}
NOT_NOW = {
    409: "The journey can't run as it is (no steps, or a send step that can't be sent); see the message."
}
RELAY_HELP = "The name of the relay its emails are sent through; null: the default relay (SMTP_URL)."
FAILOVER_HELP = "The relay its emails fail over to when the first is down; null: none (they wait)."
SMALL = validate.Range(min=-100_000, max=100_000, error="is out of range")


def _count(description: str) -> fields.Integer:
    return fields.Integer(strict=True, validate=SMALL, metadata={"description": description})


class JourneyWrite(RequestSchema):
    """A journey's settings; on PATCH, only what changes."""

    name = Text(max_length=200)
    trigger = Text(validate=validate.OneOf([str(t) for t in Trigger], error="is not a trigger"))
    list_id = Text(
        metadata={"description": "The list its emails are sent for (and, by default, its trigger)."}
    )
    trigger_tag = Text(max_length=60, metadata={"description": "tag_added: the tag's name."})
    trigger_segment_id = Text(metadata={"description": "segment_joined: the segment's public id."})
    date_field = Text(max_length=60, metadata={"description": "date_field: a custom date field's key."})
    date_hour = _count("date_field: the hour (0–23) in the contact's time zone.")
    date_yearly = Flag()
    date_offset_days = _count("date_field: days before (negative) or after the date.")
    reentry = Flag(metadata={"description": "May a contact go through it again after leaving?"})
    include_existing = Flag(metadata={"description": "Contacts who already qualify enter on activation."})
    timezone = Text(
        max_length=64, metadata={"description": "For contacts without their own, e.g. Europe/Rome."}
    )
    layout_id = Text(allow_none=True, metadata={"description": "The layout of its emails (public id)."})
    track_clicks = Flag(metadata={"description": "Only ever for contacts who consented to click tracking."})
    relay = Text(allow_none=True, max_length=63, metadata={"description": RELAY_HELP})
    failover_relay = Text(allow_none=True, max_length=63, metadata={"description": FAILOVER_HELP})


class JourneyCreate(JourneyWrite):
    name = Text(required=True, max_length=200)
    trigger = Text(
        required=True, validate=validate.OneOf([str(t) for t in Trigger], error="is not a trigger")
    )
    list_id = Text(required=True, metadata={"description": "The list its emails are sent for."})


class StepWrite(RequestSchema):
    """A step; on PATCH, only what changes (a step keeps its kind)."""

    kind = Text(validate=validate.OneOf(STEP_KINDS, error="must be one of " + ", ".join(STEP_KINDS)))
    position = fields.Integer(
        strict=True,
        validate=SMALL,
        metadata={"description": "On creation: insert before this position (0 = first)."},
    )
    subject = Text(max_length=300, metadata={"description": "send: the subject line."})
    preheader = Text(max_length=300)
    body = Text(multiline=True, metadata={"description": "send: the content (Markdown or HTML)."})
    body_format = Text(validate=validate.OneOf(["markdown", "html"], error="must be markdown or html"))
    wait_mode = Text(validate=validate.OneOf(["duration", "until"], error="must be duration or until"))
    wait_days = _count("wait (duration): days.")
    wait_hours = _count("wait (duration): hours.")
    wait_minutes = _count("wait (duration): minutes.")
    weekday = _count("wait (until): 0 = Monday … 6 = Sunday.")
    hour = _count("wait (until): the hour, 0–23, in the contact's time zone.")
    branch_on = Text(validate=validate.OneOf(["tag", "list", "field", "clicked"], error="is not a condition"))
    tag = Text(
        max_length=60, metadata={"description": "add_tag, remove_tag, branch on a tag: the tag's name."}
    )
    list_id = Text(metadata={"description": "add_list, remove_list, branch on a list: the list's public id."})
    field_key = Text(max_length=60)
    field_value = Text(max_length=500)
    clicked_step_id = Text(
        metadata={"description": "branch on a click: a send step of this journey (its id)."}
    )
    else_step_id = Text(
        allow_none=True,
        metadata={
            "description": "branch: where those who don't match go (a step id); null ends the journey."
        },
    )
    basis = Text(
        validate=validate.OneOf(
            ["double_opt_in", "has_consent"], error="must be double_opt_in or has_consent"
        )
    )
    statement = Text(max_length=500, metadata={"description": "add_list with has_consent: where and how."})


class MoveRequest(RequestSchema):
    direction = Text(required=True, validate=validate.OneOf(["up", "down"], error="must be up or down"))


class StepStatsSchema(Schema):
    entered = fields.Integer()
    sent = fields.Integer()
    clicked = fields.Integer(metadata={"description": "Contacts who clicked, among those who consented."})
    waiting = fields.Integer(metadata={"description": "About to run this step."})
    exited = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "By reason."}
    )


class StepSchema(Schema):
    id = fields.String(metadata={"description": "The step's id within its journey."})
    position = fields.Integer(metadata={"description": "0 is the first step."})
    kind = one_of(STEP_KINDS)
    description = fields.String(metadata={"description": "What it does, in words."})
    subject = fields.String()
    preheader = fields.String()
    body = fields.String()
    body_format = fields.String()
    settings = fields.Dict(metadata={"description": "Its settings (tags by name, lists by public id)."})
    stats = fields.Nested(StepStatsSchema)


class JourneyDetailSchema(JourneySchema):
    steps = fields.Integer()
    step_list = fields.List(fields.Nested(StepSchema), data_key="step_details", attribute="step_details")
    timezone = fields.String()
    layout_id = fields.String(allow_none=True)
    track_clicks = fields.Boolean()
    include_existing = fields.Boolean()
    relay = fields.String(allow_none=True, metadata={"description": RELAY_HELP})
    failover_relay = fields.String(allow_none=True, metadata={"description": FAILOVER_HELP})
    enrolled_existing = fields.Integer(
        metadata={"description": "Only on activation: how many existing contacts entered now."}
    )


def journey_by_public_id(public_id: str) -> Journey:
    """The journey with this id, or a JSON 404."""
    journey = db.session.execute(
        select(Journey).where(Journey.public_id == public_id[:32])
    ).scalar_one_or_none()
    if journey is None:
        raise ApiError(404, "There is no journey with this id.", {"journey_id": public_id[:64]})
    return journey


def _step(journey: Journey, step_id: str) -> JourneyStep:
    step = next((s for s in journey.steps if str(s.id) == step_id), None)
    if step is None:
        raise ApiError(404, "This journey has no step with this id.", {"step_id": step_id[:64]})
    return step


def _names(ids: dict) -> dict:
    """Tags by name and lists by public id, for a step's settings."""
    out = dict(ids)
    if "tag_id" in out:
        tag = db.session.get(Tag, out.pop("tag_id"))
        out["tag"] = tag.name if tag is not None else None
    if "list_id" in out:
        mailing_list = db.session.get(MailingList, out.pop("list_id"))
        out["list_id"] = mailing_list.public_id if mailing_list is not None else None
    for key in ("step_id", "else"):
        if out.get(key) is not None:
            out[key] = str(out[key])
    return out


def _step_json(step: JourneyStep, stats: StepStats | None, names: dict) -> dict:
    numbers = stats or StepStats()
    return {
        "id": str(step.id),
        "position": step.position,
        "kind": step.kind,
        "description": describe(step.kind, step.settings or {}, names),
        "subject": step.subject,
        "preheader": step.preheader,
        "body": step.body,
        "body_format": step.body_format,
        "settings": _names(step.settings or {}),
        "stats": {
            "entered": numbers.entered,
            "sent": numbers.sent,
            "clicked": numbers.clicked,
            "waiting": numbers.waiting,
            "exited": dict(numbers.exited),
        },
    }


def _detail(journey: Journey, enrolled: int | None = None) -> dict:
    db.session.refresh(journey)
    stats, names = queries.step_stats(journey), queries.names()
    data = {
        **_journey_json(journey),
        "timezone": journey.timezone,
        "layout_id": journey.layout.public_id if journey.layout is not None else None,
        "track_clicks": journey.track_clicks,
        "include_existing": journey.include_existing,
        "relay": _relay_name(journey.relay_id),
        "failover_relay": _relay_name(journey.failover_relay_id),
        "step_details": [
            _step_json(step, stats.get(step.id), names)
            for step in sorted(journey.steps, key=lambda s: s.position)
        ],
    }
    if enrolled is not None:
        data["enrolled_existing"] = enrolled
    return data


def _relay_name(relay_id: int | None) -> str | None:
    relay = db.session.get(Relay, relay_id) if relay_id is not None else None
    return relay.name if relay is not None else None


def _internal_id(model, public_id: str | None, field_name: str) -> int | None:
    return ids_of(model, [public_id], field_name)[0] if public_id else None


def _tag_id(name: str | None, field_name: str) -> int | None:
    if not name:
        return None
    tag = tag_by_name(name)
    if tag is None:
        raise invalid(field_name, "no tag has this name")
    return tag.id


def _journey_input(body: dict, base: journeys.JourneyInput) -> journeys.JourneyInput:
    for name in ("name", "trigger", "date_hour", "date_yearly", "date_offset_days", "reentry"):
        if name in body:
            setattr(base, name, body[name])
    for name in ("include_existing", "timezone", "track_clicks"):
        if name in body:
            setattr(base, name, body[name])
    if "list_id" in body:
        base.list_id = _internal_id(MailingList, body["list_id"], "list_id")
    if "layout_id" in body:
        base.layout_id = _internal_id(Layout, body["layout_id"], "layout_id")
    if "trigger_segment_id" in body:
        base.trigger_segment_id = _internal_id(Segment, body["trigger_segment_id"], "trigger_segment_id")
    if "trigger_tag" in body:
        base.trigger_tag_id = _tag_id(body["trigger_tag"], "trigger_tag")
    if "relay" in body:
        base.relay_id = id_named(Relay, Relay.name, body["relay"], "relay")
    if "failover_relay" in body:
        base.failover_relay_id = id_named(Relay, Relay.name, body["failover_relay"], "failover_relay")
    if "date_field" in body:
        custom = field_by_key(body["date_field"])
        if custom is None:
            raise invalid("date_field", "no custom field has this key")
        base.date_field_id = custom.id
    return base


def _input_of(journey: Journey) -> journeys.JourneyInput:
    """A journey's settings as they are, to change some."""
    return journeys.JourneyInput(
        name=journey.name,
        trigger=journey.trigger,
        list_id=journey.list_id,
        trigger_tag_id=journey.trigger_tag_id,
        reentry=journey.reentry,
        include_existing=journey.include_existing,
        timezone=journey.timezone,
        layout_id=journey.layout_id,
        track_clicks=journey.track_clicks,
        trigger_segment_id=journey.trigger_segment_id,
        date_field_id=journey.date_field_id,
        date_hour=journey.date_hour,
        date_yearly=journey.date_yearly,
        date_offset_days=journey.date_offset_days,
        relay_id=journey.relay_id,
        failover_relay_id=journey.failover_relay_id,
    )


def _step_of(step: JourneyStep) -> StepInput:
    """A step as it is (as the builder's edit page fills its form), to change some of it."""
    settings = step.settings or {}
    data = StepInput(kind=step.kind, subject=step.subject, preheader=step.preheader, body=step.body)
    data.body_format = step.body_format
    seconds = int(settings.get("seconds", 0))
    data.wait_mode = settings.get("mode", "duration")
    data.wait_days, rest = divmod(seconds, 86400)
    data.wait_hours, rest = divmod(rest, 3600)
    data.wait_minutes = rest // 60
    data.weekday, data.hour = int(settings.get("weekday", 0)), int(settings.get("hour", 9))
    data.branch_on = settings.get("on", "tag")
    data.tag_id, data.list_id = settings.get("tag_id"), settings.get("list_id")
    data.field_key, data.field_value = settings.get("field_key", ""), settings.get("value", "")
    data.clicked_step_id, data.else_step_id = settings.get("step_id"), settings.get("else")
    data.basis, data.statement = settings.get("basis", ""), settings.get("statement", "")
    return data


def _step_ref(journey: Journey, value: str | None, field_name: str) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit() or not any(s.id == int(value) for s in journey.steps):
        raise invalid(field_name, "no step of this journey has this id")
    return int(value)


def _step_input(journey: Journey, body: dict, base: StepInput) -> StepInput:
    plain = (
        "subject", "preheader", "body", "body_format", "wait_mode", "wait_days", "wait_hours", "wait_minutes",
        "weekday", "hour", "branch_on", "field_key", "field_value", "basis", "statement",
    )  # fmt: skip
    for name in plain:
        if name in body:
            setattr(base, name, body[name])
    if "tag" in body:
        base.tag_id = _tag_id(body["tag"], "tag")
    if "list_id" in body:
        base.list_id = _internal_id(MailingList, body["list_id"], "list_id")
    if "clicked_step_id" in body:
        base.clicked_step_id = _step_ref(journey, body["clicked_step_id"], "clicked_step_id")
    if "else_step_id" in body:
        base.else_step_id = _step_ref(journey, body["else_step_id"], "else_step_id")
    return base


def _refused(exc: Exception, status: int = 422) -> ApiError:
    db.session.rollback()
    return ApiError(status, str(exc), {"journey": str(exc)})


@api_route(
    "/journeys",
    ("POST",),
    body=JourneyCreate,
    responses={201: JourneyDetailSchema},
    errors=REFUSED,
    operation_id="createJourney",
)
def journey_create(body: dict):
    """Create a journey

    The builder's rules: a name, a trigger (and what it names: a tag, a segment, a date field), an active
    list its emails are sent for, a layout and time zone that exist. It starts paused, without steps.
    """
    data = _journey_input(body, journeys.JourneyInput(name="", trigger="", list_id=None))
    try:
        journey = journeys.create_journey(data)
    except JourneyError as exc:
        raise _refused(exc) from None
    db.session.commit()
    return _detail(journey), 201


@api_route("/journeys/<public_id>", responses={200: JourneyDetailSchema}, operation_id="getJourney")
def journey_show(public_id: str):
    """One journey with its steps and each step's numbers

    Per step: entered, sent, clicked (among contacts who consented to click tracking: nobody else is
    seen), waiting, and who left there and why.
    """
    return _detail(journey_by_public_id(public_id))


@api_route(
    "/journeys/<public_id>",
    ("PATCH",),
    body=JourneyWrite,
    responses={200: JourneyDetailSchema},
    errors=REFUSED,
    operation_id="updateJourney",
)
def journey_update(public_id: str, body: dict):
    """Change a journey's settings

    Fields left out stay as they are; its send steps take a new layout.
    """
    journey = journey_by_public_id(public_id)
    if not body:
        raise ApiError(422, "Nothing to change: send at least one field.")
    try:
        journeys.update_journey(journey, _journey_input(body, _input_of(journey)))
    except (JourneyError, CampaignError) as exc:
        raise _refused(exc) from None
    db.session.commit()
    return _detail(journey)


@api_route(
    "/journeys/<public_id>/steps",
    ("POST",),
    body=StepWrite,
    responses={201: StepSchema},
    errors=REFUSED,
    operation_id="addJourneyStep",
)
def journey_step_add(public_id: str, body: dict):
    """Add a step

    `kind` is send (subject, body, body_format), wait (wait_mode duration with wait_days/hours/minutes,
    or until a weekday and hour), branch (branch_on tag, list, field or clicked; else_step_id), add_tag /
    remove_tag (tag), add_list (list_id, basis, statement) / remove_list (list_id), or end. At the end, or
    before `position`.
    """
    journey = journey_by_public_id(public_id)
    if "kind" not in body:
        raise invalid("kind", "this field is required")
    data = _step_input(journey, body, StepInput(kind=body["kind"]))
    try:
        step = journeys.add_step(journey, data, body.get("position"))
    except (JourneyError, CampaignError) as exc:
        raise _refused(exc) from None
    db.session.commit()
    return _step_json(step, None, queries.names()), 201


@api_route(
    "/journeys/<public_id>/steps/<step_id>",
    ("PATCH",),
    body=StepWrite,
    responses={200: StepSchema},
    parameters={"step_id": "A step's id (GET /journeys/{public_id})."},
    errors=REFUSED,
    operation_id="updateJourneyStep",
)
def journey_step_update(public_id: str, step_id: str, body: dict):
    """Change a step

    Fields left out stay as they are; messages not sent yet take the new content. A step keeps its kind.
    """
    journey = journey_by_public_id(public_id)
    step = _step(journey, step_id)
    if not body:
        raise ApiError(422, "Nothing to change: send at least one field.")
    if "position" in body:
        raise invalid("position", "move a step with POST …/steps/{step_id}/move")
    if body.get("kind", step.kind) != step.kind:
        raise invalid("kind", "A step keeps its kind; delete it and add another one instead.")
    try:
        journeys.update_step(step, _step_input(journey, body, _step_of(step)))
    except (JourneyError, CampaignError) as exc:
        raise _refused(exc) from None
    db.session.commit()
    return _step_json(step, queries.step_stats(journey).get(step.id), queries.names())


@api_route(
    "/journeys/<public_id>/steps/<step_id>/move",
    ("POST",),
    body=MoveRequest,
    responses={200: JourneyDetailSchema},
    parameters={"step_id": "A step's id (GET /journeys/{public_id})."},
    operation_id="moveJourneyStep",
)
def journey_step_move(public_id: str, step_id: str, body: dict):
    """Move a step up or down

    The first step can't go up nor the last one down (nothing changes).
    """
    journey = journey_by_public_id(public_id)
    journeys.move_step(_step(journey, step_id), -1 if body["direction"] == "up" else 1)
    db.session.commit()
    return _detail(journey)


@api_route(
    "/journeys/<public_id>/steps/<step_id>",
    ("DELETE",),
    responses={204: None},
    parameters={"step_id": "A step's id (GET /journeys/{public_id})."},
    errors={409: "A branch names this step: change it first."},
    operation_id="deleteJourneyStep",
)
def journey_step_delete(public_id: str, step_id: str):
    """Delete a step

    Contacts about to run it go on with the step after it.
    """
    journey = journey_by_public_id(public_id)
    try:
        journeys.delete_step(_step(journey, step_id))
    except JourneyError as exc:
        raise _refused(exc, 409) from None
    db.session.commit()
    return None, 204


def _activate(public_id: str) -> dict:
    journey = journey_by_public_id(public_id)
    try:
        enrolled = journeys.activate(journey)
    except (JourneyError, CampaignError) as exc:
        raise _refused(exc, 409) from None
    db.session.commit()
    return _detail(journey, enrolled)


@api_route(
    "/journeys/<public_id>/activate",
    ("POST",),
    responses={200: JourneyDetailSchema},
    errors=NOT_NOW,
    operation_id="activateJourney",
)
def journey_activate(public_id: str):
    """Start a journey

    Every send step must be sendable. With include_existing, contacts who already qualify enter now (once;
    `enrolled_existing` says how many).
    """
    return _activate(public_id)


@api_route(
    "/journeys/<public_id>/pause",
    ("POST",),
    responses={200: JourneyDetailSchema},
    operation_id="pauseJourney",
)
def journey_pause(public_id: str):
    """Pause a journey

    Nobody moves on and no queued email leaves until it is resumed.
    """
    journey = journey_by_public_id(public_id)
    journeys.pause(journey)
    db.session.commit()
    return _detail(journey)


@api_route(
    "/journeys/<public_id>/resume",
    ("POST",),
    responses={200: JourneyDetailSchema},
    errors=NOT_NOW,
    operation_id="resumeJourney",
)
def journey_resume(public_id: str):
    """Resume a paused journey

    Contacts move on again and the emails the pause held back leave.
    """
    return _activate(public_id)
