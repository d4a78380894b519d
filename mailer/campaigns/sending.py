"""Campaigns as the sending engine's recipient store, and the sending operations the actors call.

The engine (mailer.delivery) owns the deliveries table and reports what happened; this module answers its
questions about the audience and the campaign, and turns its reports into state moves
(mailer.campaigns.states).
"""

import logging
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, Select, case, select, update

from mailer.campaigns import ab_testing, eligibility, states
from mailer.campaigns import alerts as campaign_alerts
from mailer.campaigns.composition import composer_for
from mailer.campaigns.models import AbTest, Campaign, CampaignStatus
from mailer.campaigns.rendering import CampaignError
from mailer.core.broker import enqueue_after_commit
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery import engine, recovery
from mailer.delivery.claims import durably
from mailer.delivery.store import MessageBuilder, Page, Recipient, SendingState
from mailer.organisation import settings as organisation_settings

log = logging.getLogger(__name__)
RELAY_WAIT_MAX_SECONDS = 300
SENDING, PAUSED = CampaignStatus.SENDING, CampaignStatus.PAUSED


class CampaignStore:
    """The recipient store of campaign sending (mailer.delivery.store.RecipientStore)."""

    plan_actor = "plan_campaign"  # mailer.campaigns.tasks
    batch_actor = "send_batch"

    def sending_state(self, campaign_id: int) -> SendingState | None:
        """Whether the campaign sends (its status is "sending") and its relay wait, read afresh."""
        row = db.session.execute(
            select(
                Campaign.status,
                Campaign.waiting_until,
                Campaign.relay_id,
                Campaign.failover_relay_id,
                Campaign.from_email,
            ).where(Campaign.id == campaign_id)
        ).one_or_none()
        if row is None:
            return None
        status = row.status
        return SendingState(
            status == CampaignStatus.SENDING,
            status == CampaignStatus.CANCELLED,
            row.waiting_until,
            row.relay_id,
            row.failover_relay_id,
            row.from_email.rpartition("@")[2].lower() or organisation_settings.sender().domain.lower(),
        )

    def next_page(self, campaign_id: int, size: int) -> Page | None:
        """Move the keyset cursor over the next page of candidates; None when planning is over or stopped.

        The cursor moves only if nobody else moved it: a redelivered planner message loses this race cleanly.
        """
        campaign = db.session.get(Campaign, campaign_id, populate_existing=True)
        if campaign is None or campaign.planning_done or campaign.status != CampaignStatus.SENDING:
            return None
        test = db.session.get(AbTest, campaign_id, populate_existing=True)
        if test is not None and test.winner is None:  # the test share first; the rest once a winner is known
            ab_testing.plan_test_share(campaign, size)
            return None
        cursor = eligibility.next_page_bound(campaign_id, campaign.planned_through, size)
        if cursor is None:
            campaign.planning_done = True
            return None
        moved = db.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.planned_through == campaign.planned_through)
            .values(planned_through=cursor, progress_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if not cast(CursorResult[Any], moved).rowcount:
            return None
        if test is not None:  # the rest of the audience gets the winner; the test share is already planned
            recipients = eligibility.eligible_in_range(
                campaign_id, campaign.planned_through, cursor, unplanned=True
            )
            return Page(campaign.planned_batches + 1, recipients, {"variant": test.winner})
        recipients = eligibility.eligible_in_range(campaign_id, campaign.planned_through, cursor)
        return Page(campaign.planned_batches + 1, recipients)

    def planned(self, campaign_id: int, batch: int, created: int) -> None:
        """A batch of `created` deliveries exists: hand out its number and count them open."""
        db.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(planned_batches=batch, open_deliveries=Campaign.open_deliveries + created)
            .execution_options(synchronize_session=False)
        )

    def composer(self, campaign_id: int, batch: int) -> MessageBuilder:
        """The composer of the batch's variant, or the campaign's (prepared once per process from the sources
        compiled when it started)."""
        campaign = db.session.get_one(Campaign, campaign_id, populate_existing=True)
        variant = ab_testing.batch_variant(campaign_id, batch)
        if variant is None:
            return composer_for(campaign)
        return composer_for(cast(Campaign, ab_testing.view_of(campaign, variant)))

    def recheck(self, campaign_id: int, claimed: Sequence[tuple[int, int, int | None]]) -> list[Recipient]:
        """The send-time check: the same eligibility rule as counting and planning."""
        return eligibility.recheck(campaign_id, list(claimed))

    def count_open(self, campaign_id: int, delta: int) -> None:
        """Add to the campaign's open deliveries, in the transaction that opened (+) or finished (-) them."""
        if delta:
            db.session.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id)
                .values(open_deliveries=Campaign.open_deliveries + delta)
                .execution_options(synchronize_session=False)
            )

    def record_progress(self, campaign_id: int, finished: int, mail_flowed: bool, now: datetime) -> None:
        """Progress time and open count; mail flowing again ends a relay wait that has run out."""
        values: dict[str, Any] = {"progress_at": now, "open_deliveries": Campaign.open_deliveries - finished}
        if mail_flowed:
            over = Campaign.waiting_until.is_(None) | (Campaign.waiting_until <= now)
            values.update(
                waiting_reason=case((over, ""), else_=Campaign.waiting_reason),
                waiting_until=case((over, None), else_=Campaign.waiting_until),
                relay_failures=case((over, 0), else_=Campaign.relay_failures),
            )
        db.session.connection().execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    def wait_for_relay(self, campaign_id: int, why: str) -> datetime:
        """Make the campaign wait for the relay (backoff doubling per failed try); until when it waits."""

        def work() -> datetime:
            now = utcnow()
            campaign = db.session.execute(
                select(Campaign.relay_failures, Campaign.waiting_until).where(Campaign.id == campaign_id)
            ).one()
            if campaign.waiting_until is not None and campaign.waiting_until > now:
                db.session.commit()
                return campaign.waiting_until  # another thread saw it first
            seconds = min(
                current_app.config["SEND_RELAY_RETRY_SECONDS"] * 2**campaign.relay_failures,
                RELAY_WAIT_MAX_SECONDS,
            ) * random.uniform(1.0, 1.2)
            until = now + timedelta(seconds=seconds)
            db.session.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.SENDING)
                .values(
                    waiting_until=until,
                    relay_failures=Campaign.relay_failures + 1,
                    waiting_reason=f"Waiting for the relay: {why}. Next try at {until:%H:%M:%S} UTC.",
                )
                .execution_options(synchronize_session=False)
            )
            db.session.commit()
            return until

        until: datetime = durably(work, "recording a wait for the relay")
        log.warning("Campaign %s waits for the relay until %s UTC: %s", campaign_id, f"{until:%H:%M:%S}", why)
        return until

    def refused_too_often(self, campaign_id: int, reason: str, policy: bool) -> None:
        """Pause the campaign itself and alert owners and admins once per pause."""

        def work() -> bool:
            paused = states.pause_automatically(campaign_id, reason)
            db.session.commit()
            return paused

        if durably(work, "pausing the campaign"):
            log.error("Campaign %s: %s", campaign_id, reason)
            campaign_alerts.paused_automatically(campaign_id, policy=policy)

    def finish_if_done(self, campaign_id: int) -> bool:
        """Sent once planning is over and every delivery is final (one row read, never earlier)."""
        return states.finish(campaign_id)

    def in_flight(self) -> Select[Any]:
        """Campaigns that can still have work in flight: sending, paused, or cancelled within the last day."""
        recent = utcnow() - timedelta(days=1)
        return select(Campaign.id).where(
            Campaign.status.in_((CampaignStatus.SENDING, CampaignStatus.PAUSED))
            | ((Campaign.status == CampaignStatus.CANCELLED) & (Campaign.finished_at >= recent))
        )

    def stalled(self, now: datetime, idle_since: datetime) -> list[tuple[int, bool]]:
        """Sending campaigns idle since `idle_since` and not waiting; marked as progressing now."""
        stalled = (
            db.session.execute(
                select(Campaign).where(
                    Campaign.status == CampaignStatus.SENDING,
                    Campaign.progress_at.is_(None) | (Campaign.progress_at <= idle_since),
                    Campaign.waiting_until.is_(None) | (Campaign.waiting_until <= now),
                )
            )
            .scalars()
            .all()
        )
        for campaign in stalled:
            campaign.progress_at = now
        return [(campaign.id, campaign.planning_done) for campaign in stalled]

    def finish_done(self) -> list[int]:
        """Every sending campaign that is planned and has no open delivery is sent."""
        return states.finish_all_done()


STORE = CampaignStore()


def plan_campaign(campaign_id: int) -> None:
    """Create the campaign's deliveries page by page and queue one batch message per page."""
    engine.plan(STORE, campaign_id)


def send_batch(campaign_id: int, batch: int) -> None:
    """Send one batch of the campaign's deliveries."""
    engine.send_batch(STORE, campaign_id, batch)


def finish_if_done(campaign_id: int) -> bool:
    """Mark the campaign sent once every delivery is final (commits)."""
    return engine.finish_if_done(STORE, campaign_id)


def recover(stuck_after_s: float | None = None, scheduled: bool = False) -> dict:
    """Recover what dead workers left, re-queue stalled campaigns, finish done ones (the scheduler's pass)."""
    return recovery.recover(STORE, stuck_after_s, scheduled)


def requeue_uncertain(campaign_id: int, delivery_ids: list[int] | None = None) -> int:
    """Queue the campaign's uncertain deliveries (all, or those ids) to be sent again; returns how many.

    An operator's explicit decision (the recipient may get the message twice). A campaign already "sent" goes
    back to "sending"; a paused one sends them when resumed. The caller audits and commits; the batch messages
    leave after that commit. A cancelled campaign sends nothing more, so it is refused.
    """
    campaign = db.session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None or campaign.status not in (*states.MOVES["reopen"].sources, SENDING, PAUSED):
        status = campaign.status if campaign is not None else "gone"
        raise CampaignError(f"This campaign is {status}; its uncertain deliveries can't be sent again.")
    if delivery_ids is not None and not delivery_ids:
        return 0
    batches = engine.requeue_uncertain(campaign_id, delivery_ids)
    if not batches:
        return 0
    STORE.count_open(campaign_id, len(batches))
    states.reopen(campaign_id)  # only when it was sent
    db.session.refresh(campaign)
    if campaign.status == SENDING:
        for batch in sorted(set(batches)):
            enqueue_after_commit(db.session, STORE.batch_actor, campaign_id, batch)
    return len(batches)
