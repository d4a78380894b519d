"""Journeys' operations: create and edit a journey and its steps, activate, pause and resume, enrol contacts
(from the triggers' hooks, the API, a test run), and take a contact out of every journey."""

from dataclasses import dataclass

from flask_babel import gettext
from sqlalchemy import and_, delete, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from mailer.campaigns import lifecycle as campaign_lifecycle
from mailer.campaigns.models import Layout
from mailer.contacts.models.fields import ContactField
from mailer.contacts.models.tags import ContactTag, Tag
from mailer.core.broker import enqueue_after_commit
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.text import has_controls
from mailer.delivery.models import Delivery, DeliveryStatus
from mailer.delivery.relays import Relay
from mailer.journeys import engine, triggers
from mailer.journeys.models import (
    Enrolment,
    EnrolmentState,
    Journey,
    JourneyEvent,
    JourneyStatus,
    JourneyStep,
    JourneyStepCampaign,
    StepKind,
    Trigger,
)
from mailer.journeys.steps import JourneyError, StepInput, clean_settings, zone
from mailer.segments.conditions import SegmentError, compile_tree
from mailer.segments.models import Segment
from mailer.subscriptions.models.lists import MailingList, Subscription

OPEN = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)


@dataclass
class JourneyInput:
    """A journey's settings as a marketer typed them."""

    name: str
    trigger: str
    list_id: int | None
    trigger_tag_id: int | None = None
    reentry: bool = False
    include_existing: bool = False
    timezone: str = "UTC"
    layout_id: int | None = None
    track_clicks: bool = True
    trigger_segment_id: int | None = None
    date_field_id: int | None = None
    date_hour: int = 9
    date_yearly: bool = True
    date_offset_days: int = 0
    relay_id: int | None = None
    failover_relay_id: int | None = None


def _check_trigger(data: JourneyInput) -> None:
    """The segment or date field a trigger names exists and fits."""
    if data.trigger == Trigger.SEGMENT_JOINED:
        segment = db.session.get(Segment, data.trigger_segment_id) if data.trigger_segment_id else None
        if segment is None:
            raise JourneyError(gettext("Choose the segment whose new members start the journey."))
        try:
            compile_tree(segment.tree)
        except SegmentError as exc:
            raise JourneyError(gettext("That segment cannot be used: %(problem)s", problem=exc)) from None
    if data.trigger == Trigger.DATE_FIELD:
        field = db.session.get(ContactField, data.date_field_id) if data.date_field_id else None
        if field is None or field.value_type != "date" or not field.active or field.is_sensitive:
            raise JourneyError(
                gettext("Choose the date field (a custom field of type date) that starts the journey.")
            )
        if not 0 <= data.date_hour <= 23:
            raise JourneyError(gettext("The hour is from 0 to 23."))
        if not -365 <= data.date_offset_days <= 365:
            raise JourneyError(gettext("Move the day by 365 days at most, before or after."))


def _check_relays(data: JourneyInput) -> None:
    for relay_id in (data.relay_id, data.failover_relay_id):
        if relay_id is not None and db.session.get(Relay, relay_id) is None:
            raise JourneyError(gettext("That relay does not exist any more."))
    if data.relay_id is not None and data.failover_relay_id == data.relay_id:
        raise JourneyError(gettext("The failover relay must be another relay than the first one."))


def _apply(journey: Journey, data: JourneyInput) -> None:
    name = " ".join((data.name or "").split())
    if not name or len(name) > 200 or has_controls(name):
        raise JourneyError(gettext("Give the journey a name (200 characters at most)."))
    if data.trigger not in tuple(Trigger):
        raise JourneyError(gettext("Choose what starts the journey."))
    mailing_list = db.session.get(MailingList, data.list_id) if data.list_id else None
    if mailing_list is None or mailing_list.archived_at is not None:
        raise JourneyError(gettext("Choose the list the journey's emails are sent for (an active list)."))
    if data.trigger == Trigger.TAG_ADDED and (
        not data.trigger_tag_id or db.session.get(Tag, data.trigger_tag_id) is None
    ):
        raise JourneyError(gettext("Choose the tag that starts the journey."))
    if data.layout_id is not None and db.session.get(Layout, data.layout_id) is None:
        raise JourneyError(gettext("Choose a layout."))
    if zone(data.timezone, "").key != (data.timezone or "UTC"):
        raise JourneyError(gettext("Unknown time zone: %(zone)s", zone=data.timezone))
    _check_trigger(data)
    _check_relays(data)
    segment_id = data.trigger_segment_id if data.trigger == Trigger.SEGMENT_JOINED else None
    if segment_id != journey.trigger_segment_id and journey.id is not None:
        triggers.reset_segment(journey)  # a new segment: its members now are the baseline, not newcomers
    journey.trigger_segment_id = segment_id
    dated = data.trigger == Trigger.DATE_FIELD
    journey.date_field_id = data.date_field_id if dated else None
    journey.date_hour, journey.date_yearly = data.date_hour, data.date_yearly
    journey.date_offset_days = data.date_offset_days
    journey.relay_id, journey.failover_relay_id = data.relay_id, data.failover_relay_id
    journey.name, journey.trigger, journey.list_id = name, data.trigger, mailing_list.id
    journey.trigger_tag_id = data.trigger_tag_id if data.trigger == Trigger.TAG_ADDED else None
    journey.reentry, journey.include_existing = data.reentry, data.include_existing
    journey.timezone, journey.layout_id, journey.track_clicks = (
        data.timezone or "UTC",
        data.layout_id,
        data.track_clicks,
    )


def create_journey(data: JourneyInput) -> Journey:
    """A new journey, paused until its steps are ready; the caller commits."""
    journey = Journey(status=JourneyStatus.PAUSED)
    _apply(journey, data)
    db.session.add(journey)
    db.session.flush()
    return journey


def update_journey(journey: Journey, data: JourneyInput) -> None:
    """Change a journey's settings (its send steps take a new layout); the caller commits."""
    _apply(journey, data)
    db.session.flush()
    for step in journey.steps:
        if step.kind == StepKind.SEND:
            engine.recompile_step(journey, step)


def _renumber(journey: Journey) -> None:
    for position, step in enumerate(sorted(journey.steps, key=lambda s: (s.position, s.id))):
        step.position = position


def add_step(journey: Journey, data: StepInput, position: int | None = None) -> JourneyStep:
    """Add a step (at the end, or before `position`); the caller commits."""
    settings = clean_settings(data)
    _check_references(journey, settings)
    steps = list(journey.steps)
    at = len(steps) if position is None else max(0, min(position, len(steps)))
    for step in steps:
        if step.position >= at:
            step.position += 1
    step = JourneyStep(journey=journey, position=at, kind=data.kind, settings=settings)
    _content(step, data)
    db.session.add(step)
    db.session.flush()
    _renumber(journey)
    if step.kind == StepKind.SEND and journey.status == JourneyStatus.ACTIVE:
        engine.prepare_step_campaign(journey, step)
    return step


def update_step(step: JourneyStep, data: StepInput) -> None:
    """Change a step's settings or content (messages not sent yet use the new content); the caller commits."""
    if data.kind != step.kind:
        raise JourneyError(gettext("A step keeps its kind; delete it and add another one instead."))
    settings = clean_settings(data)
    _check_references(step.journey, settings)
    step.settings = settings
    _content(step, data)
    db.session.flush()
    if step.kind == StepKind.SEND:
        engine.recompile_step(step.journey, step)


def _content(step: JourneyStep, data: StepInput) -> None:
    if data.kind == StepKind.SEND:
        if len(data.subject) > 300 or len(data.preheader) > 300:
            raise JourneyError(gettext("The subject and preview text are 300 characters at most."))
        step.subject, step.preheader = data.subject.strip(), data.preheader.strip()
        step.body, step.body_format = data.body, data.body_format


def _check_references(journey: Journey, settings: dict) -> None:
    if "tag_id" in settings and db.session.get(Tag, settings["tag_id"]) is None:
        raise JourneyError(gettext("That tag does not exist any more."))
    if "list_id" in settings and db.session.get(MailingList, settings["list_id"]) is None:
        raise JourneyError(gettext("That list does not exist any more."))
    own = {s.id for s in journey.steps}
    for key in ("step_id", "else"):
        if settings.get(key) is not None and settings[key] not in own:
            raise JourneyError(gettext("A branch can only name steps of this journey."))


def move_step(step: JourneyStep, direction: int) -> None:
    """Move a step up (-1) or down (+1); the caller commits."""
    steps = sorted(step.journey.steps, key=lambda s: s.position)
    index = steps.index(step)
    other = index + (1 if direction > 0 else -1)
    if 0 <= other < len(steps):
        steps[index].position, steps[other].position = steps[other].position, steps[index].position
    db.session.flush()


def delete_step(step: JourneyStep) -> None:
    """Delete a step; contacts about to run it go on with the step after it. The caller commits."""
    journey = step.journey
    steps = sorted(journey.steps, key=lambda s: s.position)
    index = steps.index(step)
    following = steps[index + 1].id if index + 1 < len(steps) else None
    db.session.execute(
        update(Enrolment)
        .where(Enrolment.step_id == step.id)
        .values(step_id=following)
        .execution_options(synchronize_session=False)
    )
    for other in steps:
        if other.settings.get("else") == step.id or other.settings.get("step_id") == step.id:
            raise JourneyError(
                gettext("Step %(number)s names this step; change it first.", number=other.position + 1)
            )
    journey.steps.remove(step)
    db.session.delete(step)
    db.session.flush()
    _renumber(journey)


# --- status -------------------------------------------------------------------------------------------------


def activate(journey: Journey) -> int:
    """Start (or resume) the journey: every send step must be sendable. Returns how many existing contacts it
    enrolled ("existing contacts too", once). The caller commits; queued messages go on after the commit."""
    if not journey.steps:
        raise JourneyError(gettext("Add at least one step first."))
    for step in journey.steps:
        if step.kind == StepKind.SEND:
            engine.recompile_step(journey, step)
            engine.prepare_step_campaign(journey, step)
    journey.status = JourneyStatus.ACTIVE
    enrolled = 0
    if journey.trigger == Trigger.SEGMENT_JOINED and journey.trigger_checked_at is None:
        # The first look: its members now enter ("existing contacts too", once) or are the baseline.
        take = journey.include_existing and not journey.existing_enrolled
        try:
            enrolled = triggers.sync_segment(journey, utcnow(), enrol=take)
        except SegmentError as exc:
            raise JourneyError(
                gettext("The journey's segment cannot be used: %(problem)s", problem=exc)
            ) from None
        journey.existing_enrolled = journey.existing_enrolled or take
        journey.trigger_checked_at = utcnow()
    elif journey.include_existing and not journey.existing_enrolled:
        enrolled = _enrol_existing(journey)
        journey.existing_enrolled = True
    _requeue_open_batches(journey)
    return enrolled


def send_test_run(journey: Journey, address: str) -> int:
    """A test run: every email of the journey, in order and marked as a test, to one address. Returns how many
    were queued (0: it has no email step yet); raises JourneyError or CampaignError. The caller commits."""
    sent = 0
    for step in journey.steps:
        if step.kind == StepKind.SEND:
            sent += campaign_lifecycle.send_test(engine.prepare_step_campaign(journey, step), [address])
    return sent


def pause(journey: Journey) -> None:
    """Nobody moves on and no queued message leaves until it is resumed; the caller commits."""
    journey.status = JourneyStatus.PAUSED


def _requeue_open_batches(journey: Journey) -> None:
    """Messages a pause held back are queued again (their batch messages found the journey paused)."""
    step_campaigns = (
        select(JourneyStepCampaign.campaign_id)
        .join(JourneyStep, JourneyStep.id == JourneyStepCampaign.step_id)
        .where(JourneyStep.journey_id == journey.id)
    )
    rows = db.session.execute(
        select(Delivery.campaign_id, Delivery.batch)
        .where(Delivery.campaign_id.in_(step_campaigns), Delivery.status == DeliveryStatus.QUEUED)
        .distinct()
    ).all()
    for campaign_id, batch in rows:
        enqueue_after_commit(db.session, engine.BATCH_ACTOR, campaign_id, batch)


def _enrol_existing(journey: Journey) -> int:
    """Everyone who already meets the trigger enters (round 1, not already in): one INSERT … SELECT."""
    first = _first_step(journey)
    if first is None or journey.trigger in (Trigger.API, Trigger.DATE_FIELD, Trigger.SEGMENT_JOINED):
        return 0  # a date comes round by itself; a segment's members enter through triggers.sync_segment
    if journey.trigger == Trigger.LIST_CONFIRMED:
        who = select(Subscription.contact_id.label("contact_id")).where(
            Subscription.list_id == journey.list_id, Subscription.status == "confirmed"
        )
    else:
        who = select(ContactTag.contact_id.label("contact_id")).where(
            ContactTag.tag_id == journey.trigger_tag_id
        )
    chosen = who.subquery()
    taken = select(Enrolment.contact_id).where(
        Enrolment.journey_id == journey.id, Enrolment.contact_id.is_not(None)
    )
    now = utcnow()
    rows = select(
        literal(journey.id),
        chosen.c.contact_id,
        literal(1),
        literal(first),
        literal(EnrolmentState.ACTIVE.value),
        literal(now),
        literal(""),
        literal("existing"),
        literal(now),
    ).where(chosen.c.contact_id.not_in(taken))
    before = _count(journey)
    db.session.execute(
        insert(Enrolment).from_select(
            [
                "journey_id",
                "contact_id",
                "round",
                "step_id",
                "state",
                "due_at",
                "exit_reason",
                "source",
                "entered_at",
            ],
            rows,
        )
    )
    return _count(journey) - before


def _count(journey: Journey) -> int:
    return db.session.execute(select(func.count()).where(Enrolment.journey_id == journey.id)).scalar_one()


def _first_step(journey: Journey) -> int | None:
    return db.session.execute(
        select(JourneyStep.id)
        .where(JourneyStep.journey_id == journey.id)
        .order_by(JourneyStep.position)
        .limit(1)
    ).scalar_one_or_none()


# --- entering and leaving -----------------------------------------------------------------------------------


def enrol(journey: Journey, contact_id: int, source: str) -> Enrolment | None:
    """The contact enters the journey (due now), unless they are in it, or were and it allows no re-entry.

    Safe inside the trigger's own transaction: a concurrent entry loses on the unique round and is ignored.
    The caller commits. A paused journey takes the entry; it moves on when resumed.
    """
    first = _first_step(journey)
    if first is None:
        return None
    previous = db.session.execute(
        select(
            func.max(Enrolment.round),
            func.count().filter(Enrolment.state == EnrolmentState.ACTIVE),
        ).where(Enrolment.journey_id == journey.id, Enrolment.contact_id == contact_id)
    ).one()
    rounds, active = previous[0] or 0, previous[1] or 0
    if active or (rounds and not journey.reentry):
        return None
    enrolment = Enrolment(
        journey_id=journey.id,
        contact_id=contact_id,
        round=rounds + 1,
        step_id=first,
        due_at=utcnow(),
        source=source,
    )
    try:
        with db.session.begin_nested():
            db.session.add(enrolment)
            db.session.flush()
    except IntegrityError:
        return None
    return enrolment


def subscription_confirmed(contact_id: int, list_ids: list[int]) -> None:
    """The subscriptions hook: a confirmed subscription enrols into the journeys it triggers."""
    if not list_ids:
        return
    journeys = db.session.execute(
        select(Journey).where(Journey.trigger == Trigger.LIST_CONFIRMED, Journey.list_id.in_(list_ids))
    ).scalars()
    for journey in list(journeys):
        enrol(journey, contact_id, "list")


def tag_added(contact_id: int, tag_id: int) -> None:
    """The contacts hook: a tag put on a contact enrols into the journeys it triggers."""
    journeys = db.session.execute(
        select(Journey).where(Journey.trigger == Trigger.TAG_ADDED, Journey.trigger_tag_id == tag_id)
    ).scalars()
    for journey in list(journeys):
        enrol(journey, contact_id, "tag")


def leave_all(contact_id: int, reason: str) -> int:
    """The contact leaves every journey now (the reason recorded); how many. The caller commits."""
    now = utcnow()
    active = list(
        db.session.execute(
            select(Enrolment.id, Enrolment.step_id).where(
                Enrolment.contact_id == contact_id, Enrolment.state == EnrolmentState.ACTIVE
            )
        ).all()
    )
    if not active:
        return 0
    db.session.execute(
        update(Enrolment)
        .where(Enrolment.id.in_([row.id for row in active]))
        .values(
            state=EnrolmentState.EXITED,
            exit_reason=reason,
            exit_step_id=Enrolment.step_id,
            due_at=None,
            finished_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        insert(JourneyEvent),
        [
            {"enrolment_id": row.id, "step_id": row.step_id, "kind": "exited", "detail": reason, "at": now}
            for row in active
        ],
    )
    return len(active)


def forget_contact(contact_id: int) -> None:
    """Erasure: the contact leaves every journey and no enrolment points at them any more."""
    leave_all(contact_id, "erased")
    db.session.execute(
        update(Enrolment)
        .where(Enrolment.contact_id == contact_id)
        .values(contact_id=None)
        .execution_options(synchronize_session=False)
    )


def delete_journey(journey: Journey) -> None:
    """Delete a journey that never sent anything (else pause it: its history stays). The caller commits."""
    sent = db.session.execute(
        select(func.count())
        .select_from(Delivery)
        .join(JourneyStepCampaign, JourneyStepCampaign.campaign_id == Delivery.campaign_id)
        .join(
            JourneyStep,
            and_(JourneyStep.id == JourneyStepCampaign.step_id, JourneyStep.journey_id == journey.id),
        )
    ).scalar_one()
    if sent:
        raise JourneyError(gettext("This journey has sent email; pause it instead (its history stays)."))
    db.session.execute(delete(Enrolment).where(Enrolment.journey_id == journey.id))
    db.session.delete(journey)
