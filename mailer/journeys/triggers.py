"""The set-based triggers the scheduler looks at: joining a segment and the day of a date field.

No per-contact Python: each journey's new entries are one INSERT … SELECT of enrolments. A segment-triggered
journey remembers its segment's members at the last look (journey_segment_members); the members now who are
not among them joined since and enter. A date-triggered journey enters, on the day and from the hour in each
contact's time zone, the contacts whose date field falls on that day (every year for a yearly date). Both
consider only contacts confirmed on the journey's list (the wake checks the full eligibility rule again).

Each journey is looked at every JOURNEY_TRIGGER_SECONDS at most: the look claims the journey with one
conditional UPDATE of its `trigger_checked_at`, so two concurrent passes never enrol the same people twice.
"""

import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import ColumnElement, Select, and_, delete, exists, func, insert, literal, or_, select, update

from mailer.contacts.models.contact import Contact
from mailer.contacts.models.fields import ContactFieldValue
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.journeys.models import (
    Enrolment,
    EnrolmentState,
    Journey,
    JourneyStatus,
    JourneyStep,
    SegmentMember,
    Trigger,
)
from mailer.journeys.steps import zone
from mailer.segments.conditions import SegmentError, compile_tree
from mailer.subscriptions.models.lists import Subscription

log = logging.getLogger(__name__)
FIRST_YEAR = 1900  # the oldest date a yearly trigger looks for (a birthday)
SAME_DAY = timedelta(days=2)  # a contact entered within this long was entered for this day already
ENROLMENT_COLUMNS = [
    "journey_id",
    "contact_id",
    "round",
    "step_id",
    "state",
    "due_at",
    "exit_reason",
    "source",
    "entered_at",
]


def enrol_from(journey: Journey, who: Select, source: str, now: datetime, again: bool = False) -> int:
    """Everyone `who` (a select of contact ids) enters, unless in it now, or ever when it allows no re-entry
    (`again`: a date that came round again always does); each as their next round. One INSERT … SELECT;
    how many entered. The caller commits."""
    first = db.session.execute(
        select(JourneyStep.id)
        .where(JourneyStep.journey_id == journey.id)
        .order_by(JourneyStep.position)
        .limit(1)
    ).scalar_one_or_none()
    if first is None:
        return 0
    chosen = who.subquery()
    contact_id = chosen.c[0]
    mine = and_(Enrolment.journey_id == journey.id, Enrolment.contact_id == contact_id)
    blocked = mine if not (journey.reentry or again) else and_(mine, Enrolment.state == EnrolmentState.ACTIVE)
    previous = select(func.coalesce(func.max(Enrolment.round), 0)).where(mine).scalar_subquery()
    rows = select(
        literal(journey.id),
        contact_id,
        previous + 1,
        literal(first),
        literal(EnrolmentState.ACTIVE.value),
        literal(now),
        literal(""),
        literal(source),
        literal(now),
    ).where(~exists().where(blocked))
    entered = db.session.execute(
        insert(Enrolment)
        .from_select(ENROLMENT_COLUMNS, rows, include_defaults=False)
        .returning(Enrolment.id)
        .execution_options(synchronize_session=False)
    )
    return len(entered.all())


def _on_list(journey: Journey) -> ColumnElement[bool]:
    """Contacts confirmed on the journey's list (whom its emails may concern at all)."""
    return exists().where(
        Subscription.contact_id == Contact.id,
        Subscription.list_id == journey.list_id,
        Subscription.status == "confirmed",
    )


# --- joining a segment --------------------------------------------------------------------------------------


def segment_members(journey: Journey) -> Select:
    """The ids of the trigger segment's members confirmed on the journey's list; SegmentError when the segment
    is gone or no longer compiles."""
    segment = journey.trigger_segment
    if segment is None:
        raise SegmentError("The journey's segment was deleted.")
    members = compile_tree(segment.tree).query.subquery()
    return select(Contact.id).where(Contact.id.in_(select(members.c[0])), _on_list(journey))


def sync_segment(journey: Journey, now: datetime, enrol: bool = True) -> int:
    """Members who joined since the last look enter (unless `enrol` is False: a new baseline, nobody enters);
    members who left are forgotten, so joining again counts. Three set-based statements; caller commits."""
    members = segment_members(journey)
    known = select(SegmentMember.contact_id).where(SegmentMember.journey_id == journey.id)
    joined = members.where(Contact.id.not_in(known))
    entered = enrol_from(journey, joined, "segment", now) if enrol else 0
    db.session.execute(
        insert(SegmentMember).from_select(
            ["journey_id", "contact_id"], select(literal(journey.id), joined.subquery().c[0])
        )
    )
    db.session.execute(
        delete(SegmentMember)
        .where(SegmentMember.journey_id == journey.id, SegmentMember.contact_id.not_in(members))
        .execution_options(synchronize_session=False)
    )
    return entered


def reset_segment(journey: Journey) -> None:
    """The trigger segment changed: forget the old members (the next look takes a new baseline)."""
    db.session.execute(
        delete(SegmentMember)
        .where(SegmentMember.journey_id == journey.id)
        .execution_options(synchronize_session=False)
    )
    journey.trigger_checked_at = None


# --- the day of a date field --------------------------------------------------------------------------------


def days_matching(day: date, yearly: bool) -> list[date]:
    """The field values that fall on `day`: itself, or for a yearly date the same day of every earlier year (a
    29 February counts on the 28th in other years). A list, so the (field, date) index answers it."""
    if not yearly:
        return [day]
    found = []
    for year in range(FIRST_YEAR, day.year):
        try:
            found.append(day.replace(year=year))
        except ValueError:  # 29 February of a year without one
            continue
    leap = (day.year % 4 == 0 and day.year % 100 != 0) or day.year % 400 == 0
    if (day.month, day.day) == (2, 28) and not leap:
        found += [date(year, 2, 29) for year in range(FIRST_YEAR, day.year) if _leap(year)]
    return found


def _leap(year: int) -> bool:
    return (year % 4 == 0 and year % 100 != 0) or year % 400 == 0


def _contact_zone() -> ColumnElement:
    return Contact.attributes["timezone"].as_string()


def enrol_dates(journey: Journey, now: datetime) -> int:
    """Contacts whose date falls on today (in their own time zone, from the journey's hour) enter. One SELECT
    of the zones among today's candidates, then one INSERT … SELECT per zone in which the hour has come."""
    if journey.date_field_id is None:
        return 0
    offset = timedelta(days=journey.date_offset_days)
    utc_now = now.replace(tzinfo=ZoneInfo("UTC"))
    # Somewhere on Earth it is yesterday, today or tomorrow (UTC-12 … UTC+14).
    around = sorted({(utc_now + timedelta(hours=h)).date() - offset for h in (-12, 0, 14)})
    candidates = sorted({d for day in around for d in days_matching(day, journey.date_yearly)})
    value = ContactFieldValue
    base = (
        select(Contact.id)
        .join(value, and_(value.contact_id == Contact.id, value.field_id == journey.date_field_id))
        .where(value.date_value.in_(candidates), Contact.status == "active", _on_list(journey))
    )
    raw_zones = set(db.session.execute(base.with_only_columns(_contact_zone()).distinct()).scalars())
    groups: dict[str, list[str | None]] = {}
    for raw in raw_zones:
        groups.setdefault(zone(raw, journey.timezone).key, []).append(raw)
    entered = 0
    for key, raws in groups.items():
        local = utc_now.astimezone(ZoneInfo(key))
        if local.hour < journey.date_hour:
            continue
        day = local.date() - offset
        named = [r for r in raws if r is not None]
        in_zone = or_(
            _contact_zone().in_(named), _contact_zone().is_(None) if None in raws else literal(False)
        )
        recent = exists().where(
            Enrolment.journey_id == journey.id,
            Enrolment.contact_id == Contact.id,
            Enrolment.entered_at >= now - SAME_DAY,
        )
        who = base.where(value.date_value.in_(days_matching(day, journey.date_yearly)), in_zone, ~recent)
        entered += enrol_from(journey, who, "date", now, again=True)
    return entered


# --- the scheduler's look -----------------------------------------------------------------------------------


def _claim(journey_id: int, now: datetime) -> bool:
    """This pass looks at the journey (no other pass does until it commits, nor again before the interval)."""
    since = now - timedelta(seconds=current_app.config["JOURNEY_TRIGGER_SECONDS"])
    claimed = db.session.execute(
        update(Journey)
        .where(
            Journey.id == journey_id,
            Journey.status == JourneyStatus.ACTIVE,
            or_(Journey.trigger_checked_at.is_(None), Journey.trigger_checked_at <= since),
        )
        .values(trigger_checked_at=now)
        .returning(Journey.id)
        .execution_options(synchronize_session=False)
    )
    return claimed.first() is not None


def enrol_triggered() -> int:
    """Every active segment or date journey due a look: its new entries. Commits; how many entered."""
    now = utcnow()
    ids = list(
        db.session.execute(
            select(Journey.id).where(
                Journey.status == JourneyStatus.ACTIVE,
                Journey.trigger.in_([Trigger.SEGMENT_JOINED, Trigger.DATE_FIELD]),
            )
        ).scalars()
    )
    entered = 0
    for journey_id in ids:
        journey = db.session.get(Journey, journey_id)
        if journey is None:
            continue
        first_look = journey.trigger_checked_at is None  # its segment changed while it ran: a new baseline
        if not _claim(journey_id, now):
            db.session.rollback()
            continue
        db.session.refresh(journey)
        try:
            with db.session.begin_nested():
                if journey.trigger == Trigger.SEGMENT_JOINED:
                    entered += sync_segment(journey, now, enrol=not first_look)
                else:
                    entered += enrol_dates(journey, now)
        except SegmentError as exc:  # its segment was deleted or names a field that is gone
            log.error("Journey %s paused: %s", journey.id, exc)
            journey.status = JourneyStatus.PAUSED
        db.session.commit()
    return entered
