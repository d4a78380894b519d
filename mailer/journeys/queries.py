"""What the builder and the contact page show: per-step numbers and a contact's path (read-only)."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext, ngettext
from sqlalchemy import distinct, func, select

from mailer.contacts.models.tags import Tag
from mailer.core.extensions import db
from mailer.delivery.models import Delivery, DeliveryStatus
from mailer.journeys.models import (
    Enrolment,
    EnrolmentState,
    Journey,
    JourneyEvent,
    JourneyStep,
    JourneyStepCampaign,
    Trigger,
)
from mailer.subscriptions.models.lists import MailingList
from mailer.tracking.models import TrackingEvent


@dataclass
class StepStats:
    """One step's numbers."""

    entered: int = 0
    sent: int = 0
    clicked: int = (
        0  # contacts who clicked, among those who consented to click tracking (nobody else is seen)
    )
    waiting: int = 0  # about to run this step
    exited: dict[str, int] = field(default_factory=dict)  # reason -> how many left at this step


def step_stats(journey: Journey) -> dict[int, StepStats]:
    """Every step's numbers (a handful of grouped queries)."""
    stats: dict[int, StepStats] = defaultdict(StepStats)
    step_ids = [s.id for s in journey.steps]
    if not step_ids:
        return stats
    for step_id, n in db.session.execute(
        select(JourneyEvent.step_id, func.count())
        .where(JourneyEvent.step_id.in_(step_ids), JourneyEvent.kind == "entered")
        .group_by(JourneyEvent.step_id)
    ):
        if step_id is not None:
            stats[step_id].entered = n
    campaigns = select(JourneyStepCampaign.step_id, JourneyStepCampaign.campaign_id).where(
        JourneyStepCampaign.step_id.in_(step_ids)
    )
    of_step = campaigns.subquery()
    for step_id, n in db.session.execute(
        select(of_step.c.step_id, func.count())
        .join(Delivery, Delivery.campaign_id == of_step.c.campaign_id)
        .where(Delivery.status == DeliveryStatus.SENT)
        .group_by(of_step.c.step_id)
    ):
        stats[step_id].sent = n
    for step_id, n in db.session.execute(
        select(of_step.c.step_id, func.count(distinct(TrackingEvent.contact_id)))
        .join(TrackingEvent, TrackingEvent.campaign_id == of_step.c.campaign_id)
        .where(TrackingEvent.kind == "click", TrackingEvent.machine.is_(False))
        .group_by(of_step.c.step_id)
    ):
        stats[step_id].clicked = n
    for step_id, n in db.session.execute(
        select(Enrolment.step_id, func.count())
        .where(Enrolment.journey_id == journey.id, Enrolment.state == EnrolmentState.ACTIVE)
        .group_by(Enrolment.step_id)
    ):
        if step_id is not None:
            stats[step_id].waiting = n
    for step_id, reason, n in db.session.execute(
        select(Enrolment.exit_step_id, Enrolment.exit_reason, func.count())
        .where(Enrolment.journey_id == journey.id, Enrolment.state == EnrolmentState.EXITED)
        .group_by(Enrolment.exit_step_id, Enrolment.exit_reason)
    ):
        if step_id is not None:
            stats[step_id].exited[reason] = n
    return stats


def totals(journey_ids: list[int]) -> dict[int, dict[str, int]]:
    """{journey id: {state: how many enrolments}}."""
    out: dict[int, dict[str, int]] = defaultdict(dict)
    if journey_ids:
        for journey_id, state, n in db.session.execute(
            select(Enrolment.journey_id, Enrolment.state, func.count())
            .where(Enrolment.journey_id.in_(journey_ids))
            .group_by(Enrolment.journey_id, Enrolment.state)
        ):
            out[journey_id][state] = n
    return out


def describe_trigger(journey: Journey, api_path: bool = False) -> str:
    """What starts the journey, in words (the list and the builder)."""
    if journey.trigger == Trigger.LIST_CONFIRMED:
        return gettext("a subscription to “%(list)s” is confirmed", list=journey.mailing_list.name)
    if journey.trigger == Trigger.TAG_ADDED:
        return gettext(
            "the tag “%(tag)s” is added", tag=journey.trigger_tag.name if journey.trigger_tag else "?"
        )
    if journey.trigger == Trigger.SEGMENT_JOINED:
        segment = journey.trigger_segment
        return gettext(
            "a contact confirmed on the list joins the segment “%(segment)s”",
            segment=segment.name if segment else "?",
        )
    if journey.trigger == Trigger.DATE_FIELD:
        return _describe_date(journey)
    path = f" (POST /api/v1/journeys/{journey.public_id}/enrol)" if api_path else ""
    return gettext("an integration calls the API") + path


def _describe_date(journey: Journey) -> str:
    field = journey.date_field.label if journey.date_field else "?"
    offset, hour = journey.date_offset_days, f"{journey.date_hour:02d}:00"
    if offset < 0:
        text = ngettext(
            "the day %(num)d day before “%(field)s” comes",
            "the day %(num)d days before “%(field)s” comes",
            -offset,
            field=field,
        )
    elif offset > 0:
        text = ngettext(
            "the day %(num)d day after “%(field)s” comes",
            "the day %(num)d days after “%(field)s” comes",
            offset,
            field=field,
        )
    else:
        text = gettext("the day “%(field)s” comes", field=field)
    if journey.date_yearly:
        return gettext("%(day)s (every year), from %(hour)s in the contact's time zone", day=text, hour=hour)
    return gettext("%(day)s, from %(hour)s in the contact's time zone", day=text, hour=hour)


def names() -> dict:
    """Names the step descriptions use: tags and lists by id."""
    found: dict = {("tag", tag_id): name for tag_id, name in db.session.execute(select(Tag.id, Tag.name))}
    found.update(
        {
            ("list", list_id): name
            for list_id, name in db.session.execute(select(MailingList.id, MailingList.name))
        }
    )
    return found


@dataclass
class PathEvent:
    """One line of a contact's timeline."""

    at: datetime
    kind: str
    step: str
    detail: str
    step_id: int | None = None


@dataclass
class Path:
    """A contact's way through one journey (one round)."""

    journey: Journey
    enrolment: Enrolment
    events: list[PathEvent]


def contact_paths(contact_id: int) -> list[Path]:
    """Every journey the contact entered, newest first, with what happened at each step."""
    enrolments = list(
        db.session.execute(
            select(Enrolment).where(Enrolment.contact_id == contact_id).order_by(Enrolment.entered_at.desc())
        ).scalars()
    )
    if not enrolments:
        return []
    journeys = {
        j.id: j
        for j in db.session.execute(
            select(Journey).where(Journey.id.in_({e.journey_id for e in enrolments}))
        ).scalars()
    }
    steps = {
        s.id: f"Step {s.position + 1}"
        for s in db.session.execute(
            select(JourneyStep).where(JourneyStep.journey_id.in_(list(journeys)))
        ).scalars()
    }
    events: dict[int, list[PathEvent]] = defaultdict(list)
    for event in db.session.execute(
        select(JourneyEvent)
        .where(JourneyEvent.enrolment_id.in_([e.id for e in enrolments]))
        .order_by(JourneyEvent.at, JourneyEvent.id)
    ).scalars():
        label = steps.get(event.step_id, "") if event.step_id is not None else ""
        events[event.enrolment_id].append(PathEvent(event.at, event.kind, label, event.detail, event.step_id))
    return [Path(journeys[e.journey_id], e, events[e.id]) for e in enrolments]
