"""The campaign state machine: the allowed moves as data, one function per move, the only writer of a status.

draft ⇄ scheduled → sending ⇄ paused → sent / cancelled (and sent → sending when an operator resends uncertain
deliveries). Every move is one UPDATE guarded by the statuses it may leave, so a person, the scheduler and any
number of workers can race for the same campaign and exactly one of them wins. The caller commits.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from mailer.campaigns.models import Campaign, CampaignStatus
from mailer.campaigns.rendering import CampaignError
from mailer.core import domain_events
from mailer.core.clock import utcnow
from mailer.core.domain_events import DomainEvent
from mailer.core.extensions import db
from mailer.core.sentences import N_, Sentence

DRAFT, SCHEDULED, SENDING, PAUSED, SENT, CANCELLED = CampaignStatus


@dataclass(frozen=True)
class Move:
    """One allowed transition: the statuses it may leave and the one it enters."""

    sources: tuple[CampaignStatus, ...]
    target: CampaignStatus


# Status reasons (stored in English, as the API gives them; pages show them translated).
PAUSED_BY_A_PERSON = Sentence(N_("Paused by a person."))
CANCELLED_BY_A_PERSON = Sentence(N_("Cancelled by a person."))
NOT_SENT_AT_TIME = Sentence(N_("Not sent at the scheduled time: %(reason)s"))
# Refusals of a move (English for the API; the admin shows them translated, the status by its name).
STATUS_WORDS = {
    "status": frozenset(
        (N_("draft"), N_("scheduled"), N_("sending"), N_("paused"), N_("sent"), N_("cancelled"))
    )
}
STATUS_WORDS["target"] = STATUS_WORDS["status"]
CANNOT_MOVE = Sentence(N_("This campaign is %(status)s; it can't be %(target)s now."), STATUS_WORDS)
ONLY_DRAFT_SCHEDULED = Sentence(
    N_("This campaign is %(status)s; only a draft can be scheduled."), STATUS_WORDS
)
ONLY_SCHEDULED_UNSCHEDULED = Sentence(
    N_("This campaign is %(status)s; only a scheduled campaign can go back to draft."), STATUS_WORDS
)
ONLY_DRAFT_OR_SCHEDULED_SENT = Sentence(
    N_("This campaign is %(status)s; only a draft or scheduled campaign can be sent."), STATUS_WORDS
)

MOVES = {
    "schedule": Move((DRAFT, SCHEDULED), SCHEDULED),
    "unschedule": Move((SCHEDULED,), DRAFT),
    "miss_schedule": Move((SCHEDULED,), DRAFT),
    "start": Move((DRAFT, SCHEDULED), SENDING),
    "pause": Move((SENDING,), PAUSED),
    "resume": Move((PAUSED,), SENDING),
    "cancel": Move((SCHEDULED, SENDING, PAUSED), CANCELLED),
    "finish": Move((SENDING,), SENT),
    "reopen": Move((SENT,), SENDING),
}
DONE_WAITING: dict[str, Any] = {"waiting_reason": "", "waiting_until": None}
# A campaign is done when planning is over and no delivery is queued or sending (one row, no scan).
IS_DONE = (Campaign.status == SENDING) & Campaign.planning_done.is_(True) & (Campaign.open_deliveries == 0)


def allows(status: str, move: str) -> bool:
    """Whether a campaign in `status` may make `move` (pages offer only the moves that can succeed)."""
    return status in MOVES[move].sources


def _move(campaign_id: int, move: str, *where: Any, **values: Any) -> bool:
    """Apply a move in one guarded UPDATE; False when the campaign was not in a status it may leave."""
    step = MOVES[move]
    db.session.flush()  # the caller's pending edits go first: the UPDATE bypasses the identity map
    result = db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status.in_(step.sources), *where)
        .values(status=step.target, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(cast(CursorResult[Any], result).rowcount)


def _move_or_refuse(campaign: Campaign, move: str, refusal: Sentence | None = None, **values: Any) -> None:
    """A person's move, refreshed afterwards; refused in words for people when the status forbids it."""
    moved = _move(campaign.id, move, **values)
    db.session.refresh(campaign)
    if not moved:
        status = str(campaign.status)
        raise CampaignError(
            refusal(status=status) if refusal else CANNOT_MOVE(status=status, target=str(MOVES[move].target))
        )


def schedule(campaign: Campaign, when: datetime, timezone: str) -> None:
    """Draft (or scheduled) → scheduled at a UTC time; the scheduler starts it when due."""
    _move_or_refuse(
        campaign,
        "schedule",
        ONLY_DRAFT_SCHEDULED,
        status_reason="",
        scheduled_at=when,
        timezone=timezone,
    )


def unschedule(campaign: Campaign) -> None:
    """Scheduled → draft, schedule cleared, so it can be edited."""
    _move_or_refuse(
        campaign,
        "unschedule",
        ONLY_SCHEDULED_UNSCHEDULED,
        status_reason="",
        scheduled_at=None,
    )


def miss_schedule(campaign_id: int, reason: str) -> bool:
    """Scheduled → draft because it could not start at its time (the reason says why)."""
    return _move(campaign_id, "miss_schedule", status_reason=reason)


def start(campaign: Campaign) -> None:
    """Draft or scheduled → sending, planning from the first recipient."""
    now = utcnow()
    _move_or_refuse(
        campaign,
        "start",
        ONLY_DRAFT_OR_SCHEDULED_SENT,
        status_reason="",
        started_at=now,
        progress_at=now,
        finished_at=None,
        planned_through=0,
        planned_batches=0,
        planning_done=False,
    )
    _announce("campaign.started", [campaign.id])


def pause(campaign: Campaign) -> None:
    """Sending → paused by a person; queued deliveries stay queued for resume."""
    _move_or_refuse(campaign, "pause", status_reason=PAUSED_BY_A_PERSON())


def pause_automatically(campaign_id: int, reason: str) -> bool:
    """Sending → paused by the engine's report of too many refusals (the reason says what to check)."""
    return _move(campaign_id, "pause", status_reason=reason, **DONE_WAITING)


def resume(campaign: Campaign) -> None:
    """Paused → sending."""
    _move_or_refuse(campaign, "resume", status_reason="", progress_at=utcnow())


def cancel(campaign: Campaign) -> None:
    """Scheduled, sending or paused → cancelled for good."""
    _move_or_refuse(
        campaign,
        "cancel",
        status_reason=CANCELLED_BY_A_PERSON(),
        finished_at=utcnow(),
        **DONE_WAITING,
    )


def finish(campaign_id: int) -> bool:
    """Sending → sent, only once planning is over and no delivery is open."""
    finished = _move(
        campaign_id,
        "finish",
        Campaign.planning_done.is_(True),
        Campaign.open_deliveries == 0,
        finished_at=utcnow(),
        **DONE_WAITING,
    )
    if finished:
        _announce("campaign.finished", [campaign_id])
    return finished


def _announce(event_type: str, campaign_ids: list[int]) -> None:
    """Tell integrations (outgoing webhooks) in this transaction."""
    events = [DomainEvent(event_type, None, {"campaign_id": campaign_id}) for campaign_id in campaign_ids]
    domain_events.emit(db.session.connection(), events)


def finish_all_done() -> list[int]:
    """Sent: every sending campaign that is planned and has nothing open (the recovery pass)."""
    ids = list(db.session.execute(select(Campaign.id).where(IS_DONE)).scalars())
    if ids:
        step = MOVES["finish"]
        finished = db.session.execute(
            update(Campaign)
            .where(Campaign.id.in_(ids), Campaign.status.in_(step.sources), IS_DONE)
            .values(status=step.target, finished_at=utcnow(), **DONE_WAITING)
            .returning(Campaign.id)
            .execution_options(synchronize_session=False)
        ).scalars()
        _announce("campaign.finished", sorted(finished))
    return ids


def reopen(campaign_id: int) -> bool:
    """Sent → sending again: an operator queued its uncertain deliveries once more."""
    return _move(campaign_id, "reopen", finished_at=None, progress_at=utcnow())
