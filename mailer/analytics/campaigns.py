"""Honest statistics per campaign for marketers, aggregates only (lists: mailer.analytics.lists).

Opens and clicks exist only for contacts who consented, so rates are given among those contacts and the
consenting share is always shown beside them. Machine-like events (proxy prefetches, link scanners) are
counted apart.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, distinct, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from mailer.analytics.models import ConsentSnapshot
from mailer.campaigns.models import Campaign, CampaignStatus, Link
from mailer.consent.models import ACTION_STATES, ConsentEvent, ConsentState, Purpose
from mailer.core import counters
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.deliverability.models import BounceEvent
from mailer.delivery.models import (
    OPEN_DELIVERY_STATUSES,
    TRACKED_CLICKS,
    TRACKED_OPENS,
    Delivery,
    DeliveryStatus,
)
from mailer.tracking.models import TrackingCounter, TrackingEvent

CONSENT_ACTIONS = tuple(action for action, state in ACTION_STATES.items() if state is not None)
GRANTING = ("granted", "confirmed")
LEAVING = ("withdrawn", "objected")
SERIES_LENGTH = {"hour": 72, "day": 30}


@dataclass
class Engagement:
    """Opens or clicks of one campaign, among the contacts who consented to that kind of tracking."""

    tracked: bool  # the campaign asked for this kind of tracking at all
    consenting: int  # delivered to contacts who had consented when it was sent
    delivered: int
    unique_human: int = 0
    total_human: int = 0
    unique_machine: int = 0
    total_machine: int = 0

    @property
    def consenting_share(self) -> float | None:
        return self.consenting / self.delivered if self.delivered else None

    @property
    def rate(self) -> float | None:
        """Unique human opens/clicks per consenting recipient (never per list:
        those without consent are unknown)."""
        return self.unique_human / self.consenting if self.consenting else None


@dataclass
class LinkStats:
    """One link of a campaign: who clicked it (consenting contacts) and how often."""

    url: str
    unique_human: int
    total_human: int
    machine: int
    anonymous: int = 0


@dataclass
class CampaignStats:
    """Everything the campaign stats page shows."""

    campaign: Campaign
    deliveries: dict[str, int]
    delivered: int
    bounced: int
    unsubscribed: int
    complaints: int
    opens: Engagement
    clicks: Engagement
    top_links: list[LinkStats]
    series: dict
    anonymous_clicks: int


def _tracking_purposes() -> dict[str, int | None]:
    rows = dict(
        db.session.execute(
            select(Purpose.key, Purpose.id).where(Purpose.key.in_(("tracking:open", "tracking:click")))
        ).all()
    )
    return {"open": rows.get("tracking:open"), "click": rows.get("tracking:click")}


def _consenting_when_sent(campaign_id: int, purposes: dict[str, int | None]) -> dict[str, int]:
    """{"open": n, "click": n}: delivered messages whose recipient's latest consent event for that tracking
    purpose, before the send, was a yes; both purposes in one pass over the campaign's deliveries.

    The consent state row is the latest event's outcome and its time (updated_at is that event's created_at):
    when it is older than the send, it is the answer, read by one join; only recipients whose consent changed
    after their message was sent need the ledger searched for the event before the send."""
    counts = dict.fromkeys(purposes, 0)
    kinds = {purpose_id: kind for kind, purpose_id in purposes.items() if purpose_id is not None}
    if not kinds:
        return counts
    state = ConsentState
    ev = aliased(ConsentEvent)
    latest = (
        select(ev.action)
        .where(
            ev.contact_id == Delivery.contact_id,
            ev.purpose_id == state.purpose_id,
            ev.created_at <= Delivery.finished_at,
            ev.action.in_(CONSENT_ACTIONS),
        )
        .order_by(ev.id.desc())
        .limit(1)
        .correlate(Delivery, state)
        .scalar_subquery()
    )
    query = (
        select(
            state.purpose_id,
            func.count(case((and_(state.updated_at <= Delivery.finished_at, state.status == "granted"), 1))),
            # nested, so the ledger is searched only for those rows (CASE keeps its order; AND need not)
            func.count(case((state.updated_at > Delivery.finished_at, case((latest.in_(GRANTING), 1))))),
        )
        .select_from(Delivery)
        .join(state, and_(state.contact_id == Delivery.contact_id, state.purpose_id.in_(list(kinds))))
        .where(Delivery.campaign_id == campaign_id, Delivery.status == "sent")
        .group_by(state.purpose_id)
    )
    for purpose_id, settled, changed_since in db.session.execute(query):
        counts[kinds[purpose_id]] = settled + changed_since
    return counts


def _finished(campaign: Campaign, deliveries: dict[str, int]) -> bool:
    """Every message of the campaign is out: it is sent or cancelled and no delivery is queued or sending."""
    return campaign.status in (CampaignStatus.SENT, CampaignStatus.CANCELLED) and not any(
        deliveries.get(status, 0) for status in OPEN_DELIVERY_STATUSES
    )


def _consenting_kept(campaign_id: int) -> dict[str, int] | None:
    """{"open": n, "click": n} from the counter table: each delivery keeps the tracking consent its message
    was sent with (Delivery.tracking, written as it was handed over). None when some of the campaign's
    delivered messages were handed over before it was kept (migration 0064): those count from the ledger."""
    counts = {"open": 0, "click": 0}
    kept = counters.totals("delivery_relay_counts", campaign_id=campaign_id, status=DeliveryStatus.SENT.value)
    for (_relay, tracking), n in kept.items():
        if tracking is None:
            return None
        if tracking & TRACKED_OPENS:
            counts["open"] += n
        if tracking & TRACKED_CLICKS:
            counts["click"] += n
    return counts


def consenting_counts(
    campaign: Campaign, purposes: dict[str, int | None], deliveries: dict[str, int]
) -> dict[str, int]:
    """{"open": n, "click": n}: delivered messages whose recipient had consented to that tracking when it was
    sent. Read from the kept counts of the consent each message was sent with; for a campaign sent (partly)
    before those were kept, counted over the ledger while it sends and, once it is finished, counted once
    and kept (ConsentSnapshot) for as long as its delivered count stays the same. The caller commits."""
    kept = _consenting_kept(campaign.id)
    if kept is not None:
        return kept
    delivered = deliveries.get("sent", 0)
    if not _finished(campaign, deliveries):
        return _consenting_when_sent(campaign.id, purposes)
    snapshot = db.session.get(ConsentSnapshot, campaign.id)
    if snapshot is None or snapshot.delivered != delivered:
        counts = _consenting_when_sent(campaign.id, purposes)
        values = {
            "delivered": delivered,
            "open_consenting": counts["open"],
            "click_consenting": counts["click"],
            "computed_at": utcnow(),
        }
        try:
            with db.session.begin_nested():
                if snapshot is None:
                    db.session.add(ConsentSnapshot(campaign_id=campaign.id, **values))
                else:
                    for name, value in values.items():
                        setattr(snapshot, name, value)
        except IntegrityError:  # another view of the page stored the same counts first
            pass
        return counts
    return {"open": snapshot.open_consenting, "click": snapshot.click_consenting}


def _engagement(campaign: Campaign, kind: str, consenting: int, delivered: int) -> Engagement:
    tracked = campaign.track_opens if kind == "open" else campaign.track_clicks
    result = Engagement(bool(tracked), consenting, delivered)
    query = (
        select(TrackingEvent.machine, func.count(), func.count(distinct(TrackingEvent.contact_id)))
        .where(TrackingEvent.campaign_id == campaign.id, TrackingEvent.kind == kind)
        .group_by(TrackingEvent.machine)
    )
    for machine, total, unique in db.session.execute(query):
        if machine:
            result.total_machine, result.unique_machine = total, unique
        else:
            result.total_human, result.unique_human = total, unique
    return result


def _unsubscribed(campaign: Campaign) -> int:
    """Distinct people who left through this campaign's unsubscribe links (complaints are counted apart)."""
    reason = ConsentEvent.details["reason"].as_string()
    query = select(func.count(distinct(ConsentEvent.contact_id))).where(
        ConsentEvent.action.in_(LEAVING),
        ConsentEvent.details["campaign"].as_string() == campaign.public_id,
        or_(reason.is_(None), reason != "complaint"),
    )
    return db.session.execute(query).scalar_one()


def _complaints(campaign: Campaign) -> int:
    """Spam complaints (feedback-loop reports) about this campaign's messages, from the bounce log."""
    query = select(func.count(distinct(BounceEvent.delivery_id))).where(
        BounceEvent.campaign_id == campaign.id, BounceEvent.kind == "complaint"
    )
    return db.session.execute(query).scalar_one()


def _top_links(campaign: Campaign, limit: int = 10) -> list[LinkStats]:
    human = and_(TrackingEvent.machine.is_(False))
    query = (
        select(
            Link.url,
            func.count(distinct(case((human, TrackingEvent.contact_id)))),
            func.count(case((human, 1))),
            func.count(case((TrackingEvent.machine.is_(True), 1))),
            func.coalesce(func.max(TrackingCounter.count), 0),
        )
        .select_from(Link)
        .outerjoin(TrackingEvent, and_(TrackingEvent.link_id == Link.id, TrackingEvent.kind == "click"))
        .outerjoin(TrackingCounter, TrackingCounter.link_id == Link.id)
        .where(Link.campaign_id == campaign.id)
        .group_by(Link.id, Link.url)
    )
    rows = [
        LinkStats(url, unique, total, machine, anon)
        for url, unique, total, machine, anon in db.session.execute(query)
    ]
    rows.sort(key=lambda r: (-r.unique_human, -r.total_human, -r.anonymous, r.url))
    return rows[:limit]


def time_bucket(column, unit: str):
    """Truncate a timestamp to the hour or day, on SQLite and PostgreSQL."""
    if db.engine.dialect.name == "postgresql":
        return func.date_trunc(unit, column)
    return func.strftime("%Y-%m-%d %H:00:00" if unit == "hour" else "%Y-%m-%d 00:00:00", column)


def as_datetime(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def campaign_series(campaign: Campaign, unit: str = "hour") -> dict:
    """Opens and clicks per hour (first 72 h) or per day (first 30 days)
    after the send started, human and machine."""
    unit = unit if unit in SERIES_LENGTH else "hour"
    start = (
        campaign.started_at
        or db.session.execute(
            select(func.min(Delivery.finished_at)).where(Delivery.campaign_id == campaign.id)
        ).scalar()
    )
    if start is None:
        return {"unit": unit, "labels": [], "datasets": []}
    start = start.replace(minute=0, second=0, microsecond=0)
    if unit == "day":
        start = start.replace(hour=0)
    step = timedelta(hours=1) if unit == "hour" else timedelta(days=1)
    end = start + step * SERIES_LENGTH[unit]
    bucket = time_bucket(TrackingEvent.created_at, unit).label("bucket")
    query = (
        select(bucket, TrackingEvent.kind, TrackingEvent.machine, func.count())
        .where(
            TrackingEvent.campaign_id == campaign.id,
            TrackingEvent.created_at >= start,
            TrackingEvent.created_at < end,
        )
        .group_by(bucket, TrackingEvent.kind, TrackingEvent.machine)
    )
    counts: dict[tuple, int] = {}
    for at, kind, machine, n in db.session.execute(query):
        counts[(as_datetime(at), kind, bool(machine))] = n
    now = utcnow()
    slots = [start + step * i for i in range(SERIES_LENGTH[unit]) if start + step * i <= now]
    fmt = "%d %b %H:00" if unit == "hour" else "%d %b"
    series = [
        ("opens", "Opens", "open", False),
        ("clicks", "Clicks", "click", False),
        ("machine_opens", "Machine-like opens", "open", True),
        ("machine_clicks", "Machine-like clicks", "click", True),
    ]
    return {
        "unit": unit,
        "labels": [s.strftime(fmt) for s in slots],
        "slots": [s.isoformat() for s in slots],
        "datasets": [
            {
                "key": key,
                "label": label,
                "machine": machine,
                "data": [counts.get((s, kind, machine), 0) for s in slots],
            }
            for key, label, kind, machine in series
        ],
    }


def campaign_stats(campaign: Campaign, unit: str = "hour") -> CampaignStats:
    """Delivery outcomes, unsubscribes, complaints, consent-aware engagement,
    top links and the time series."""
    deliveries = {
        status: n for (status,), n in counters.totals("delivery_counts", campaign_id=campaign.id).items()
    }
    delivered = deliveries.get("sent", 0)
    consenting = consenting_counts(campaign, _tracking_purposes(), deliveries)
    anonymous = db.session.execute(
        select(func.coalesce(func.sum(TrackingCounter.count), 0)).where(
            TrackingCounter.campaign_id == campaign.id
        )
    ).scalar_one()
    return CampaignStats(
        campaign=campaign,
        deliveries=deliveries,
        delivered=delivered,
        bounced=deliveries.get("bounced", 0),
        unsubscribed=_unsubscribed(campaign),
        complaints=_complaints(campaign),
        opens=_engagement(campaign, "open", consenting["open"], delivered),
        clicks=_engagement(campaign, "click", consenting["click"], delivered),
        top_links=_top_links(campaign),
        series=campaign_series(campaign, unit),
        anonymous_clicks=anonymous,
    )


def campaigns_overview(limit: int = 50) -> list[tuple[Campaign, dict[str, int]]]:
    """Recent campaigns that have started sending, with delivered count and unique human opens and clicks."""
    campaigns = (
        db.session.execute(
            select(Campaign)
            .where(Campaign.started_at.is_not(None))
            .order_by(Campaign.started_at.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )
    ids = [c.id for c in campaigns]
    delivered = {
        campaign_id: n
        for (campaign_id, status), n in counters.totals("delivery_counts").items()
        if status == "sent"
    }
    engaged: dict[tuple[int, str], int] = {}
    if ids:
        query = (
            select(
                TrackingEvent.campaign_id, TrackingEvent.kind, func.count(distinct(TrackingEvent.contact_id))
            )
            .where(TrackingEvent.campaign_id.in_(ids), TrackingEvent.machine.is_(False))
            .group_by(TrackingEvent.campaign_id, TrackingEvent.kind)
        )
        engaged = {(cid, kind): n for cid, kind, n in db.session.execute(query)}
    return [
        (
            c,
            {
                "delivered": delivered.get(c.id, 0),
                "opens": engaged.get((c.id, "open"), 0),
                "clicks": engaged.get((c.id, "click"), 0),
            },
        )
        for c in campaigns
    ]
