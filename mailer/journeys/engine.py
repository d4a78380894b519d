"""The scheduler's pass over due enrolments: claim a batch (SKIP LOCKED on PostgreSQL), run their steps.

No per-contact timers: an enrolment's `due_at` says when it moves on, and every pass takes the due ones in
one UPDATE … RETURNING (on PostgreSQL over a FOR UPDATE SKIP LOCKED select, so passes in several workers
never take the same rows; on SQLite the UPDATE takes the write lock). Everything a pass does — the steps'
effects, the deliveries it queues, the enrolments' new step and due time, the events — commits together, so
a worker that dies mid-pass leaves the enrolments due as they were. A send step inserts the delivery of the
step's campaign row for that round; the delivery engine sends it exactly as it sends campaigns (claims,
send-time eligibility, recovery of a dead worker's claims), and the (campaign, contact) uniqueness means each
step is sent at most once per enrolment.

Before each wake the campaign eligibility rule is asked for the journey's list: a contact who may not receive
marketing there any more (unsubscribed, objected, restricted, erased, suppressed, consent gone) leaves the
journey with that reason before anything else happens.
"""

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from flask_babel import gettext
from sqlalchemy import (
    ColumnElement,
    any_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from mailer.campaigns import eligibility
from mailer.campaigns.lifecycle import compile_for_sending, require_sendable
from mailer.campaigns.models import JOURNEY_STEP_STATUS, Campaign
from mailer.contacts.fields import merge_values
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.tags import ContactTag
from mailer.core import domain_events
from mailer.core.broker import enqueue_after_commit
from mailer.core.bulk import copy_rows
from mailer.core.clock import utcnow
from mailer.core.domain_events import DomainEvent
from mailer.core.extensions import db
from mailer.delivery.models import Delivery, DeliveryStatus
from mailer.journeys import effects
from mailer.journeys.models import (
    Enrolment,
    EnrolmentState,
    Journey,
    JourneyEvent,
    JourneyStatus,
    JourneyStep,
    JourneyStepCampaign,
    StepKind,
)
from mailer.journeys.steps import JourneyError, wait_until, zone
from mailer.subscriptions.models.lists import Subscription
from mailer.tracking.models import TrackingEvent

log = logging.getLogger(__name__)
ELIGIBILITY_GROUP = 200  # contacts per eligibility query of a pass (see advance_due)
MAX_STEPS_PER_WAKE = 50  # instant steps run in one wake; a loop of branches cannot spin for ever
BATCH_ACTOR = "send_journey_batch"  # mailer.journeys.tasks


# --- the step campaigns -------------------------------------------------------------------------------------


def _campaign_fields(journey: Journey, step: JourneyStep) -> dict:
    return {
        "name": f"{journey.name} · step {step.position + 1}",
        "subject": step.subject,
        "preheader": step.preheader,
        "body": step.body,
        "body_format": step.body_format,
        "layout_id": journey.layout_id,
        "track_clicks": journey.track_clicks,
        "track_opens": False,
        "relay_id": journey.relay_id,
        "failover_relay_id": journey.failover_relay_id,
    }


def prepare_step_campaign(journey: Journey, step: JourneyStep, round_: int = 1) -> Campaign:
    """The campaign row that carries this send step for contacts in this round, compiled (created once).

    Refused with the campaigns' own words when the message cannot be sent (layout, postal address …).
    """
    campaign_id = db.session.execute(
        select(JourneyStepCampaign.campaign_id).where(
            JourneyStepCampaign.step_id == step.id, JourneyStepCampaign.round == round_
        )
    ).scalar_one_or_none()
    campaign = db.session.get(Campaign, campaign_id) if campaign_id is not None else None
    if campaign is not None:
        for key, value in _campaign_fields(journey, step).items():
            setattr(campaign, key, value)
        db.session.flush()
        db.session.refresh(campaign)
        _compile(campaign, step)
        return campaign
    campaign = Campaign(status=JOURNEY_STEP_STATUS, category="marketing", **_campaign_fields(journey, step))
    campaign.lists = [journey.mailing_list]
    try:
        with db.session.begin_nested():  # nothing of it stays when it can't be compiled
            db.session.add(campaign)
            db.session.flush()
            db.session.add(JourneyStepCampaign(step_id=step.id, round=round_, campaign_id=campaign.id))
            db.session.flush()
            db.session.refresh(campaign)
            _compile(campaign, step)
    except IntegrityError:  # another pass made it first
        return prepare_step_campaign(journey, step, round_)
    return campaign


def _compile(campaign: Campaign, step: JourneyStep) -> None:
    """The campaigns' own checks (layout footer, postal address, sender …) and compilation."""
    try:
        require_sendable(campaign, need_lists=False)
        compile_for_sending(campaign)
        db.session.flush()
    except ValueError as exc:
        raise JourneyError(gettext("Step %(number)s: %(kind)s", number=step.position + 1, kind=exc)) from None


def recompile_step(journey: Journey, step: JourneyStep) -> None:
    """A send step's content changed: every round's campaign row takes it (messages not yet sent use it)."""
    rounds = db.session.execute(
        select(JourneyStepCampaign.round).where(JourneyStepCampaign.step_id == step.id)
    ).scalars()
    for round_ in list(rounds):
        prepare_step_campaign(journey, step, round_)


# --- one pass -----------------------------------------------------------------------------------------------


@dataclass
class _Pass:
    now: datetime
    journeys: dict[int, Journey]
    steps: dict[int, list[JourneyStep]]
    reasons: dict[tuple[int, int], str]
    zones: dict[int, str | None]
    sends: dict[int, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))
    events: list[dict] = field(default_factory=list)
    campaigns: dict[tuple[int, int], int] = field(default_factory=dict)
    confirmations: list[int] = field(default_factory=list)  # double opt-in emails owed after the commit
    announced: list[DomainEvent] = field(default_factory=list)  # journey.step_sent, for webhooks

    def event(self, enrolment: Enrolment, step_id: int | None, kind: str, detail: str = "") -> None:
        if kind == "sent":
            refs = {"journey_id": enrolment.journey_id, "step_id": step_id}
            self.announced.append(DomainEvent("journey.step_sent", enrolment.contact_id, refs, self.now))
        self.events.append(
            {
                "enrolment_id": enrolment.id,
                "step_id": step_id,
                "kind": kind,
                "detail": detail[:200],
                "at": self.now,
            }
        )


def advance_due(limit: int | None = None) -> int:
    """Claim up to `limit` due enrolments of active journeys and run their steps; commits; how many."""
    now = utcnow()
    limit = limit or current_app.config["JOURNEY_BATCH_SIZE"]
    active = select(Journey.id).where(Journey.status == JourneyStatus.ACTIVE)
    due = (
        select(Enrolment.id)
        .where(
            Enrolment.state == EnrolmentState.ACTIVE,
            Enrolment.due_at <= now,
            Enrolment.journey_id.in_(active),
        )
        .order_by(Enrolment.due_at)
        .limit(limit)
    )
    taken: ColumnElement[bool] = Enrolment.id.in_(due.scalar_subquery())
    if db.session.get_bind().dialect.name == "postgresql":
        # `id = ANY(ARRAY(…))`: the chosen ids are looked up by primary key. With `id IN (…)` PostgreSQL
        # hash-joins the subquery against a sequential scan of every enrolment, each pass (measured: 28,000
        # rows read to take 1,000 of 20,000, growing with the table).
        taken = Enrolment.id == any_(func.array(due.with_for_update(skip_locked=True).scalar_subquery()))
    ids = list(
        db.session.execute(
            update(Enrolment)
            .where(taken)
            .values(due_at=None)
            .returning(Enrolment.id)
            .execution_options(synchronize_session=False)
        ).scalars()
    )
    if not ids:
        db.session.commit()
        return 0
    enrolments = list(
        db.session.execute(
            select(Enrolment).where(Enrolment.id.in_(ids)).execution_options(populate_existing=True)
        ).scalars()
    )
    journey_ids = {e.journey_id for e in enrolments}
    journeys = {
        j.id: j for j in db.session.execute(select(Journey).where(Journey.id.in_(journey_ids))).scalars()
    }
    steps = {jid: list(journey.steps) for jid, journey in journeys.items()}
    by_list: dict[int, set[int]] = defaultdict(set)
    for e in enrolments:
        if e.contact_id is not None:
            by_list[journeys[e.journey_id].list_id].add(e.contact_id)
    reasons = {}
    for list_id, contact_ids in by_list.items():
        ordered = sorted(contact_ids)
        # In groups small enough that PostgreSQL probes the indexes per contact: for 1,000 contacts at once
        # it hash-joins full scans of contacts, subscriptions and consent states, so the rows a pass reads
        # grew with the audience (89,000 for a pass of 1,000 among 20,000 contacts).
        for start in range(0, len(ordered), ELIGIBILITY_GROUP):
            group = ordered[start : start + ELIGIBILITY_GROUP]
            for contact_id, reason in eligibility.reasons_on_list(list_id, group).items():
                reasons[(list_id, contact_id)] = reason
    contact_ids = {e.contact_id for e in enrolments if e.contact_id is not None}
    zones = {
        contact_id: (attributes or {}).get("timezone")
        for contact_id, attributes in db.session.execute(
            select(Contact.id, Contact.attributes).where(Contact.id.in_(contact_ids))
        )
    }
    run = _Pass(now, journeys, steps, reasons, zones)
    for enrolment in enrolments:
        journey = journeys[enrolment.journey_id]
        if journey.status != JourneyStatus.ACTIVE:  # paused below, earlier in this pass
            enrolment.due_at = now
            continue
        try:
            _wake(run, enrolment)  # leaves the enrolment at the step it could not run
        except JourneyError as exc:  # a send step can't be built any more (e.g. its layout lost its footer)
            log.error("Journey %s paused: %s", journey.id, exc)
            journey.status = JourneyStatus.PAUSED
            enrolment.due_at = now
    _write_enrolments(enrolments)
    _queue_sends(run)
    _insert_rows(JourneyEvent, run.events)
    domain_events.emit(db.session.connection(), run.announced)
    db.session.commit()
    if run.confirmations:
        effects.send_confirmations(run.confirmations)
    return len(ids)


# The columns a wake changes; a pass writes them for all its enrolments in one statement.
_MOVED = ("state", "step_id", "due_at", "exit_reason", "exit_step_id", "finished_at")


def _write_enrolments(enrolments: list[Enrolment]) -> None:
    """Where each enrolment of the pass is now, in one UPDATE (not one per row from the session's flush).

    On PostgreSQL the rows travel as one JSON parameter (json_populate_recordset); SQLite's executemany is
    its own C loop. The enrolments leave the session, so its flush does not write them a second time.
    """
    if not enrolments:
        return
    rows = [{"id": e.id, **{name: getattr(e, name) for name in _MOVED}} for e in enrolments]
    for enrolment in enrolments:
        db.session.expunge(enrolment)
    table = Enrolment.__table__
    if db.session.get_bind().dialect.name == "postgresql":
        sets = ", ".join(f"{name} = v.{name}" for name in _MOVED)
        db.session.execute(
            text(
                f"UPDATE {table.name} AS e SET {sets} "
                f"FROM json_populate_recordset(NULL::{table.name}, CAST(:rows AS json)) AS v "
                "WHERE e.id = v.id"
            ),
            {"rows": json.dumps(rows, default=_json_value)},
        )
        return
    db.session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({name: bindparam(f"b_{name}") for name in _MOVED}),
        [{f"b_{key}": value for key, value in row.items()} for row in rows],
    )


def _json_value(value) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _insert_rows(model, rows: list[dict]) -> None:
    """New rows of a pass in one go: COPY on PostgreSQL (core/bulk.py), executemany on SQLite."""
    if not rows:
        return
    if db.session.get_bind().dialect.name == "postgresql":
        copy_rows(db.session.connection(), model.__table__, rows)
    else:
        db.session.execute(insert(model), rows)


def _exit(run: _Pass, enrolment: Enrolment, reason: str) -> None:
    enrolment.state, enrolment.exit_reason, enrolment.due_at = EnrolmentState.EXITED, reason, None
    enrolment.exit_step_id, enrolment.finished_at = enrolment.step_id, run.now
    run.event(enrolment, enrolment.step_id, "exited", reason)


def _done(run: _Pass, enrolment: Enrolment, step_id: int | None, detail: str = "") -> None:
    enrolment.state, enrolment.due_at, enrolment.finished_at = EnrolmentState.DONE, None, run.now
    enrolment.step_id = None
    run.event(enrolment, step_id, "done", detail)


def _wake(run: _Pass, enrolment: Enrolment) -> None:
    """Run the enrolment's steps from its current one until a wait, the end, or an exit."""
    journey = run.journeys[enrolment.journey_id]
    steps = run.steps[journey.id]
    if enrolment.contact_id is None:
        _exit(run, enrolment, "erased")
        return
    reason = run.reasons.get((journey.list_id, enrolment.contact_id), "erased")
    if reason:
        _exit(run, enrolment, reason)
        return
    for _ in range(MAX_STEPS_PER_WAKE):
        index = next((i for i, s in enumerate(steps) if s.id == enrolment.step_id), None)
        if index is None:
            _done(run, enrolment, None)
            return
        step = steps[index]
        run.event(enrolment, step.id, "entered")
        following = steps[index + 1].id if index + 1 < len(steps) else None
        if step.kind == StepKind.SEND:
            campaign_id = _step_campaign_id(run, journey, step, enrolment.round)
            run.sends[campaign_id].append((enrolment.contact_id, journey.list_id))
            run.event(enrolment, step.id, "sent", step.subject)
        elif step.kind == StepKind.WAIT:
            until = wait_until(
                step.settings, run.now, zone(run.zones.get(enrolment.contact_id), journey.timezone)
            )
            enrolment.step_id, enrolment.due_at = following, until
            run.event(enrolment, step.id, "waited", f"until {until:%Y-%m-%d %H:%M} UTC")
            return
        elif step.kind == StepKind.BRANCH:
            matched = _matches(step.settings, enrolment.contact_id, journey, enrolment.round)
            run.event(enrolment, step.id, "branched", "matched" if matched else "did not match")
            if not matched:
                target = step.settings.get("else")
                later = [s.id for s in steps[index + 1 :]]
                if target not in later:
                    _done(run, enrolment, step.id, "the branch ended it")
                    return
                following = target
        elif step.kind in (StepKind.ADD_TAG, StepKind.REMOVE_TAG):
            effects.change_tag(journey, step, enrolment.contact_id)
        elif step.kind in (StepKind.ADD_LIST, StepKind.REMOVE_LIST):
            what, confirm = effects.change_list(journey, step, enrolment.contact_id)
            run.event(enrolment, step.id, "listed", what)
            if confirm:
                run.confirmations.append(enrolment.contact_id)
        elif step.kind == StepKind.END:
            _done(run, enrolment, step.id)
            return
        if following is None:
            _done(run, enrolment, step.id)
            return
        enrolment.step_id = following
    enrolment.due_at = run.now  # more instant steps than one wake runs: the next pass goes on


def _step_campaign_id(run: _Pass, journey: Journey, step: JourneyStep, round_: int) -> int:
    """The step's campaign row for this round: compiled when the journey started or the step was saved; a
    later round's is made (and compiled) the first time someone reaches it."""
    key = (step.id, round_)
    if key not in run.campaigns:
        found = db.session.execute(
            select(JourneyStepCampaign.campaign_id).where(
                JourneyStepCampaign.step_id == step.id, JourneyStepCampaign.round == round_
            )
        ).scalar_one_or_none()
        run.campaigns[key] = found if found is not None else prepare_step_campaign(journey, step, round_).id
    return run.campaigns[key]


def _matches(settings: dict, contact_id: int, journey: Journey, round_: int) -> bool:
    """Does the contact meet the branch's condition now?"""
    on = settings.get("on")
    if on == "tag":
        return bool(
            db.session.execute(
                select(
                    exists().where(
                        ContactTag.contact_id == contact_id, ContactTag.tag_id == settings.get("tag_id")
                    )
                )
            ).scalar()
        )
    if on == "list":
        return bool(
            db.session.execute(
                select(
                    exists().where(
                        Subscription.contact_id == contact_id,
                        Subscription.list_id == settings.get("list_id"),
                        Subscription.status == "confirmed",
                    )
                )
            ).scalar()
        )
    if on == "field":
        value = merge_values([contact_id]).get(contact_id, {}).get(str(settings.get("field_key")))
        return value is not None and value.strip().casefold() == str(settings.get("value", "")).casefold()
    if on == "clicked":  # click events exist only for contacts who consented to click tracking
        step_campaigns = select(JourneyStepCampaign.campaign_id).where(
            JourneyStepCampaign.step_id == settings.get("step_id"), JourneyStepCampaign.round == round_
        )
        return bool(
            db.session.execute(
                select(
                    exists().where(
                        TrackingEvent.contact_id == contact_id,
                        TrackingEvent.kind == "click",
                        TrackingEvent.machine.is_(False),
                        TrackingEvent.campaign_id.in_(step_campaigns),
                    )
                )
            ).scalar()
        )
    return False


def _queue_sends(run: _Pass) -> None:
    """One new batch of deliveries per step campaign, queued after the pass commits."""
    for campaign_id, pairs in run.sends.items():
        already = set(
            db.session.execute(
                select(Delivery.contact_id).where(
                    Delivery.campaign_id == campaign_id, Delivery.contact_id.in_([c for c, _ in pairs])
                )
            ).scalars()
        )
        rows = {contact_id: list_id for contact_id, list_id in pairs if contact_id not in already}
        if not rows:
            continue
        batch = db.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(
                planned_batches=Campaign.planned_batches + 1,
                open_deliveries=Campaign.open_deliveries + len(rows),
                progress_at=run.now,
            )
            .returning(Campaign.planned_batches)
            .execution_options(synchronize_session=False)
        ).scalar_one()
        _insert_rows(
            Delivery,
            [
                {
                    "campaign_id": campaign_id,
                    "contact_id": contact_id,
                    "list_id": list_id,
                    "batch": batch,
                    "status": DeliveryStatus.QUEUED.value,
                    "reason": "",
                    "message_id": "",
                    "attempts": 0,
                    "queued_at": run.now,
                }
                for contact_id, list_id in rows.items()
            ],
        )
        enqueue_after_commit(db.session, BATCH_ACTOR, campaign_id, batch)


def exit_withdrawn() -> int:
    """Everyone still in a journey who left its list or whose contact is restricted or erased leaves now
    (the scheduler's sweep, so a long wait does not keep them in; the wake and the send-time check would stop
    their next step anyway). One query; commits. How many left."""
    now = utcnow()
    reason = case(
        (Contact.id.is_(None), literal("erased")),
        (Contact.status != "active", Contact.status),
        else_=literal("unsubscribed"),
    )
    rows = db.session.execute(
        select(Enrolment.id, Enrolment.step_id, reason.label("reason"))
        .join(Journey, Journey.id == Enrolment.journey_id)
        .outerjoin(Contact, Contact.id == Enrolment.contact_id)
        .outerjoin(
            Subscription,
            (Subscription.contact_id == Enrolment.contact_id) & (Subscription.list_id == Journey.list_id),
        )
        .where(
            Enrolment.state == EnrolmentState.ACTIVE,
            Contact.id.is_(None) | (Contact.status != "active") | (Subscription.status == "unsubscribed"),
        )
    ).all()
    for row in rows:
        db.session.execute(
            update(Enrolment)
            .where(Enrolment.id == row.id, Enrolment.state == EnrolmentState.ACTIVE)
            .values(
                state=EnrolmentState.EXITED,
                exit_reason=row.reason,
                exit_step_id=row.step_id,
                due_at=None,
                finished_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    if rows:
        db.session.execute(
            insert(JourneyEvent),
            [
                {"enrolment_id": r.id, "step_id": r.step_id, "kind": "exited", "detail": r.reason, "at": now}
                for r in rows
            ],
        )
    db.session.commit()
    return len(rows)
