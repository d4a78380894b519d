"""Journeys, their steps, the campaign rows that carry each send step's message, enrolments and their events.

A send step's message goes out through the campaigns' delivery path: each (step, round) has a campaign row of
status "journey" (mailer.campaigns.models.JOURNEY_STEP_STATUS) that holds the compiled message, its links and
its deliveries. A delivery is unique per (campaign, contact), and a contact's n-th time through a journey is
round n, so each step is sent at most once per enrolment, whatever the workers do.
"""

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.core.clock import utcnow
from mailer.core.extensions import Model
from mailer.core.ids import new_public_id


class JourneyStatus(enum.StrEnum):
    """Active journeys move their contacts on; paused ones keep them where they are (new entries wait too)."""

    ACTIVE = "active"
    PAUSED = "paused"


class Trigger(enum.StrEnum):
    """What enrols a contact."""

    LIST_CONFIRMED = "list_confirmed"  # a confirmed subscription to the trigger list
    TAG_ADDED = "tag_added"  # the trigger tag put on a contact
    API = "api"  # POST /api/v1/journeys/<id>/enrol
    SEGMENT_JOINED = "segment_joined"  # the contact became a member of the trigger segment
    DATE_FIELD = "date_field"  # the day of a custom date field (birthday, anniversary, renewal)


class StepKind(enum.StrEnum):
    """What a step does."""

    SEND = "send"
    WAIT = "wait"
    BRANCH = "branch"
    ADD_TAG = "add_tag"
    REMOVE_TAG = "remove_tag"
    ADD_LIST = "add_list"
    REMOVE_LIST = "remove_list"
    END = "end"


class EnrolmentState(enum.StrEnum):
    """active (due_at says when it moves on) → done (the last step or an end step) / exited (exit_reason)."""

    ACTIVE = "active"
    DONE = "done"
    EXITED = "exited"


class Journey(Model):
    """A named automation: its trigger, the list its mail is sent for, options and status."""

    __tablename__ = "journeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=JourneyStatus.PAUSED, index=True)
    trigger: Mapped[str] = mapped_column(String(20), default=Trigger.LIST_CONFIRMED)
    # The list whose subscribers' consent the journey's mail relies on (its unsubscribe link leaves it).
    list_id: Mapped[int] = mapped_column(ForeignKey("mailing_lists.id"))
    trigger_tag_id: Mapped[int | None] = mapped_column(ForeignKey("tags.id", ondelete="SET NULL"))
    trigger_segment_id: Mapped[int | None] = mapped_column(ForeignKey("segments.id", ondelete="SET NULL"))
    trigger_checked_at: Mapped[datetime | None]  # the scheduler's last look for new entries (segment, date)
    # A date trigger: the custom date field, the hour of the day (contact's time), whether it recurs yearly
    # (birthday, anniversary) or is the date itself (renewal); offset_days moves it (-7: a week early).
    date_field_id: Mapped[int | None] = mapped_column(ForeignKey("contact_fields.id", ondelete="SET NULL"))
    date_hour: Mapped[int] = mapped_column(default=9, server_default="9")
    date_yearly: Mapped[bool] = mapped_column(default=True, server_default=true())
    date_offset_days: Mapped[int] = mapped_column(default=0, server_default="0")
    reentry: Mapped[bool] = mapped_column(default=False)  # may a contact go through it again after leaving?
    include_existing: Mapped[bool] = mapped_column(default=False)  # enrol who already qualifies on activation
    existing_enrolled: Mapped[bool] = mapped_column(default=False)  # that was done (once)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")  # for contacts without their own
    layout_id: Mapped[int | None] = mapped_column(ForeignKey("layouts.id"))
    track_clicks: Mapped[bool] = mapped_column(default=True)  # only ever for contacts who consented
    # The named relay its emails go through (None: the default relay of SMTP_URL), and its failover.
    relay_id: Mapped[int | None] = mapped_column(ForeignKey("relays.id", ondelete="SET NULL"))
    failover_relay_id: Mapped[int | None] = mapped_column(ForeignKey("relays.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    mailing_list = relationship("MailingList")
    trigger_tag = relationship("Tag")
    trigger_segment = relationship("Segment")
    date_field = relationship("ContactField")
    relay = relationship("Relay", foreign_keys=[relay_id])
    layout = relationship("Layout")
    steps = relationship(
        "JourneyStep", back_populates="journey", order_by="JourneyStep.position", cascade="all, delete-orphan"
    )


class JourneyStep(Model):
    """One step; `settings` holds what its kind needs (see mailer.journeys.steps)."""

    __tablename__ = "journey_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(20))
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    subject: Mapped[str] = mapped_column(String(300), default="")  # send steps
    preheader: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    body_format: Mapped[str] = mapped_column(String(10), default="markdown")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    journey = relationship("Journey", back_populates="steps")


class JourneyStepCampaign(Model):
    """The campaign row carrying a send step's message for the contacts in their n-th round."""

    __tablename__ = "journey_step_campaigns"

    step_id: Mapped[int] = mapped_column(ForeignKey("journey_steps.id", ondelete="CASCADE"), primary_key=True)
    round: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), unique=True)


class SegmentMember(Model):
    """A member of a segment journey's segment at the scheduler's last look: who joined since is new."""

    __tablename__ = "journey_segment_members"

    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)


class Enrolment(Model):
    """A contact's way through a journey: the step to run next and when; how it ended."""

    __tablename__ = "journey_enrolments"
    __table_args__ = (
        UniqueConstraint("journey_id", "contact_id", "round", name="uq_journey_enrolments_round"),
        Index("ix_journey_enrolments_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id", ondelete="CASCADE"), index=True)
    # None once the contact is erased: nothing in journey state points at the person any more.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    round: Mapped[int] = mapped_column(default=1)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("journey_steps.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(10), default=EnrolmentState.ACTIVE)
    due_at: Mapped[datetime | None]  # UTC; when the scheduler moves it on
    exit_reason: Mapped[str] = mapped_column(String(40), default="")
    exit_step_id: Mapped[int | None] = mapped_column(ForeignKey("journey_steps.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(20), default="")  # what enrolled it (trigger, api, test…)
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class JourneyEvent(Model):
    """One thing that happened on an enrolment's way (ids and words only): entered a step, sent, exited."""

    __tablename__ = "journey_events"
    __table_args__ = (Index("ix_journey_events_step_kind", "step_id", "kind"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(
        ForeignKey("journey_enrolments.id", ondelete="CASCADE"), index=True
    )
    step_id: Mapped[int | None] = mapped_column(ForeignKey("journey_steps.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(
        String(20)
    )  # entered | sent | waited | branched | tagged | exited | done
    detail: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)
