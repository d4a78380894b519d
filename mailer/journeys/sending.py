"""Journeys as a recipient store of the delivery engine: a send step's campaign row sends while its journey
is active; the engine claims, re-checks (the campaign eligibility rule), sends, recovers as for campaigns."""

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, select, update

from mailer.campaigns.models import JOURNEY_STEP_STATUS, Campaign
from mailer.campaigns.sending import CampaignStore
from mailer.core.extensions import db
from mailer.delivery import engine
from mailer.delivery.claims import durably
from mailer.delivery.models import Delivery, DeliveryStatus
from mailer.delivery.store import Page, Recipient, SendingState
from mailer.journeys.engine import BATCH_ACTOR
from mailer.journeys.models import Journey, JourneyStatus, JourneyStep, JourneyStepCampaign

log = logging.getLogger(__name__)


def _journey_of(campaign_id: int) -> Select[int, str]:
    query: Select[int, str] = (
        select(Journey.id, Journey.status)
        .join(JourneyStep, JourneyStep.journey_id == Journey.id)
        .join(JourneyStepCampaign, JourneyStepCampaign.step_id == JourneyStep.id)
        .where(JourneyStepCampaign.campaign_id == campaign_id)
    )
    return query


class JourneyStore(CampaignStore):
    """The step campaigns' store: the journeys' pass creates deliveries; the engine never plans."""

    plan_actor = "advance_journeys"  # never asked for: a step campaign's planning is always done
    batch_actor = BATCH_ACTOR

    def sending_state(self, campaign_id: int) -> SendingState | None:
        journey = db.session.execute(_journey_of(campaign_id)).one_or_none()
        state = super().sending_state(campaign_id)
        if journey is None or state is None:
            return None
        state.sending = journey.status == JourneyStatus.ACTIVE
        state.cancelled = False
        return state

    def next_page(self, campaign_id: int, size: int) -> Page | None:
        return None

    def planned(self, campaign_id: int, batch: int, created: int) -> None:
        return None  # the journeys' pass counts what it queues

    def recheck(self, campaign_id: int, claimed: Sequence[tuple[int, int, int | None]]) -> list[Recipient]:
        return super().recheck(campaign_id, claimed)

    def refused_too_often(self, campaign_id: int, reason: str, policy: bool) -> None:
        """Most messages are refused: the whole journey pauses (a person resumes it once fixed)."""

        def work() -> None:
            journey = db.session.execute(_journey_of(campaign_id)).one_or_none()
            if journey is not None:
                db.session.execute(
                    update(Journey).where(Journey.id == journey.id).values(status=JourneyStatus.PAUSED)
                )
            db.session.commit()

        durably(work, "pausing the journey")
        log.error("Journey step campaign %s: %s (journey paused)", campaign_id, reason)

    def finish_if_done(self, campaign_id: int) -> bool:
        return False  # a step campaign is never finished: the journey goes on

    def in_flight(self) -> Select[Any]:
        return select(JourneyStepCampaign.campaign_id)

    def stalled(self, now: datetime, idle_since: datetime) -> list[tuple[int, bool]]:
        """Step campaigns of active journeys with queued deliveries, no progress: messages lost."""
        active = (
            select(JourneyStepCampaign.campaign_id)
            .join(JourneyStep, JourneyStep.id == JourneyStepCampaign.step_id)
            .join(Journey, Journey.id == JourneyStep.journey_id)
            .where(Journey.status == JourneyStatus.ACTIVE)
        )
        ids = list(
            db.session.execute(
                select(Campaign.id).where(
                    Campaign.status == JOURNEY_STEP_STATUS,
                    Campaign.id.in_(active),
                    Campaign.progress_at.is_(None) | (Campaign.progress_at <= idle_since),
                    Campaign.waiting_until.is_(None) | (Campaign.waiting_until <= now),
                    exists().where(
                        Delivery.campaign_id == Campaign.id, Delivery.status == DeliveryStatus.QUEUED
                    ),
                )
            ).scalars()
        )
        if ids:
            db.session.execute(
                update(Campaign)
                .where(Campaign.id.in_(ids))
                .values(progress_at=now)
                .execution_options(synchronize_session=False)
            )
        return [(campaign_id, True) for campaign_id in ids]

    def finish_done(self) -> list[int]:
        return []


STORE = JourneyStore()


def send_batch(campaign_id: int, batch: int) -> None:
    """Send one batch of a step campaign's deliveries."""
    engine.send_batch(STORE, campaign_id, batch)
