"""Campaigns waiting for the relay: when each wait began, and one alert per wait that lasts too long.

The engine sets Campaign.waiting_reason while the relay is down and clears it when mail flows again; it keeps
no start time. A job run every minute notes the start of each wait (an audit row), its end (another), and once
a wait has lasted ALERT_RELAY_WAIT_MINUTES raises one alert for it (campaign_alerts: shown at once, emailed
with retries). A wait shorter than the job's interval may go unnoticed, which is fine: it was not worth an
alert.
"""

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from mailer.audit import record
from mailer.audit.models import AuditEvent
from mailer.campaigns import alerts as campaign_alerts
from mailer.campaigns.models import Campaign, CampaignStatus
from mailer.core.clock import utcnow
from mailer.core.extensions import db

WAIT_STARTED = "campaign.relay_wait"
WAIT_ENDED = "campaign.relay_back"
WAIT_ACTIONS = (WAIT_STARTED, WAIT_ENDED, campaign_alerts.WAIT_ALERT_ACTION)
HISTORY_DAYS = (
    30  # an unfinished wait older than this (the campaign was deleted or forgotten) is not followed
)


def _open_waits(now: datetime) -> dict[str, dict[str, AuditEvent]]:
    """Per campaign whose latest wait row is a start: that start, and the alert raised since (if any)."""
    rows = db.session.execute(
        select(AuditEvent)
        .where(
            AuditEvent.action.in_(WAIT_ACTIONS),
            AuditEvent.target_type == "campaign",
            AuditEvent.created_at >= now - timedelta(days=HISTORY_DAYS),
        )
        .order_by(AuditEvent.id)
    ).scalars()
    waits: dict[str, dict[str, AuditEvent]] = {}
    for row in rows:
        if row.action == WAIT_STARTED:
            waits[row.target_id] = {"started": row}
        elif row.action == WAIT_ENDED:
            waits.pop(row.target_id, None)
        elif row.target_id in waits:
            waits[row.target_id]["alert"] = row
    return waits


def check_relay_waits(now: datetime | None = None) -> dict[str, int]:
    """Note waits that began or ended since the last run; alert once for each that has lasted too long."""
    now = now or utcnow()
    threshold = timedelta(minutes=current_app.config["ALERT_RELAY_WAIT_MINUTES"])
    waiting = {
        c.public_id: c
        for c in db.session.execute(
            select(Campaign).where(Campaign.status == CampaignStatus.SENDING, Campaign.waiting_reason != "")
        ).scalars()
    }
    waits = _open_waits(now)
    done = {"started": 0, "ended": 0, "alerted": 0}
    for public_id, wait in waits.items():
        if public_id not in waiting:
            started = wait["started"].created_at
            record(
                WAIT_ENDED,
                "campaign",
                public_id,
                {"waited_minutes": round((now - started).total_seconds() / 60)},
            )
            done["ended"] += 1
    for public_id, campaign in waiting.items():
        if public_id not in waits:
            record(WAIT_STARTED, "campaign", public_id, {"reason": campaign.waiting_reason[:200]})
            done["started"] += 1
    db.session.commit()
    for public_id, wait in waits.items():
        waiter = waiting.get(public_id)
        if waiter is not None and "alert" not in wait and now - wait["started"].created_at >= threshold:
            campaign_alerts.raise_alert(
                waiter,
                campaign_alerts.WAIT_ALERT_ACTION,
                {"kind": "relay", "since": wait["started"].created_at.isoformat(timespec="seconds")},
            )
            done["alerted"] += 1
    return done


def relay_wait(campaign: Campaign, waits: dict | None = None) -> dict | None:
    """A campaign waiting for the relay, as shown: the engine's reason, since when, any alert; else None."""
    if campaign.status != CampaignStatus.SENDING or not campaign.waiting_reason:
        return None
    wait = (_open_waits(utcnow()) if waits is None else waits).get(campaign.public_id, {})
    alert = wait.get("alert")
    shown = (
        campaign_alerts.alerts_from({campaign.public_id: alert}).get(campaign.public_id) if alert else None
    )
    return {
        "reason": campaign.waiting_reason,
        "until": campaign.waiting_until,
        "since": wait["started"].created_at if "started" in wait else None,
        "alert": shown,
    }


def waiting_campaigns(limit: int = 10) -> list[tuple[Campaign, dict | None]]:
    """Campaigns waiting for the relay right now, each with what relay_wait() shows (for the dashboard)."""
    campaigns = (
        db.session.execute(
            select(Campaign)
            .where(Campaign.status == CampaignStatus.SENDING, Campaign.waiting_reason != "")
            .order_by(Campaign.id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )
    waits = _open_waits(utcnow()) if campaigns else {}
    return [(campaign, relay_wait(campaign, waits)) for campaign in campaigns]
