"""Turning buffered tracking hits into events: consent, machine-likeness, anonymous counts and activity.

Only genuine campaigns and links, only active contacts who currently consent to that kind of tracking; hits
that look automated (Apple Mail Privacy Protection, link scanners, opens right after the send, click bursts)
are marked, never dropped, and never count as the person's activity (F9).
"""

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import ARRAY, CursorResult, any_, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from mailer.campaigns.models import Campaign, Link
from mailer.consent.models import ConsentState, Purpose
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery.models import Delivery
from mailer.tracking.models import TrackingCounter, TrackingEvent

log = logging.getLogger(__name__)
BURST_SECONDS = 1.0  # clicks on this many distinct links within this time look like a link scanner
CLICK_SETTLE = timedelta(seconds=BURST_SECONDS)  # a click older than this can no longer join a burst
BURST_LINKS = 3
ACTIVITY_RESOLUTION = timedelta(hours=1)  # last_activity_at is refreshed at most hourly by tracking
PURPOSE_KEYS = {"open": "tracking:open", "click": "tracking:click"}
MACHINE_CLASSES = ("apple-mpp", "scanner", "empty")


@dataclass(frozen=True)
class TrackedHit:
    """One request to a tracking endpoint, before consent and machine-likeness are settled."""

    kind: str  # open | click
    campaign_public_id: str
    contact_public_id: str | None  # None: an anonymous count (no recipient part)
    link_id: int | None
    user_agent_class: str
    at: datetime


def write_hits(hits: list[TrackedHit], now: datetime | None = None) -> int:
    """Turn a batch of hits into tracking events and anonymous counts in one transaction; returns how many.

    A human open is the person's activity at once; a human click only once no scanner burst can still include
    it (clicks younger than CLICK_SETTLE are counted later by settle_clicks), so a scanner's first click never
    moves the activity date (F9)."""
    settled = (now or utcnow()) - CLICK_SETTLE
    if not hits:
        return 0
    campaigns = dict(
        db.session.execute(
            select(Campaign.public_id, Campaign.id).where(
                _among(Campaign.public_id, {h.campaign_public_id for h in hits})
            )
        ).all()
    )
    link_ids = {h.link_id for h in hits if h.link_id is not None}
    links = (
        dict(db.session.execute(select(Link.id, Link.campaign_id).where(_among(Link.id, link_ids))).all())
        if link_ids
        else {}
    )
    contact_pids = {h.contact_public_id for h in hits if h.contact_public_id}
    contacts = {
        row.public_id: row
        for row in db.session.execute(
            select(Contact.public_id, Contact.id, Contact.status).where(
                _among(Contact.public_id, contact_pids)
            )
        )
    }
    purposes = dict(
        db.session.execute(
            select(Purpose.key, Purpose.id).where(Purpose.key.in_(PURPOSE_KEYS.values()))
        ).all()
    )
    contact_ids = {row.id for row in contacts.values()}
    granted = (
        set(
            db.session.execute(
                select(ConsentState.contact_id, ConsentState.purpose_id).where(
                    _among(ConsentState.contact_id, contact_ids),
                    ConsentState.purpose_id.in_(purposes.values()),
                    ConsentState.status == "granted",
                )
            ).all()
        )
        if contact_ids
        else set()
    )
    sent_at = _sent_times(set(campaigns.values()), contact_ids)

    rows: list[dict] = []
    anonymous: Counter[tuple[int, int]] = Counter()
    for hit in hits:
        campaign_id = campaigns.get(hit.campaign_public_id)
        if campaign_id is None or (hit.link_id is not None and links.get(hit.link_id) != campaign_id):
            continue
        if hit.contact_public_id is None:
            if hit.link_id is not None:
                anonymous[(campaign_id, hit.link_id)] += 1
            continue
        contact = contacts.get(hit.contact_public_id)
        if contact is None or contact.status != ContactStatus.ACTIVE:
            continue  # unknown, erased or restricted (Art. 18): nothing is processed
        if (contact.id, purposes.get(PURPOSE_KEYS[hit.kind])) not in granted:
            continue  # no consent for this kind of tracking (ePrivacy Art. 5(3)): not recorded
        machine_reason = hit.user_agent_class if hit.user_agent_class in MACHINE_CLASSES else ""
        sent = sent_at.get((campaign_id, contact.id))
        if not machine_reason and sent is not None and timedelta(0) <= hit.at - sent < _machine_window():
            machine_reason = "right-after-send"
        rows.append(
            {
                "campaign_id": campaign_id,
                "contact_id": contact.id,
                "link_id": hit.link_id,
                "kind": hit.kind,
                "created_at": hit.at,
                "machine": bool(machine_reason),
                "machine_reason": machine_reason,
                "user_agent_class": hit.user_agent_class,
            }
        )
    _mark_click_bursts(rows)
    if rows:
        _insert_events(rows)
        humans = [r for r in rows if not r["machine"] and (r["kind"] != "click" or r["created_at"] < settled)]
        if humans:  # a person's own open or click is activity (retention of inactive contacts), noted hourly
            _note_activity({r["contact_id"] for r in humans}, max(r["created_at"] for r in humans))
    for (campaign_id, link_id), count in anonymous.items():
        _add_to_counter(campaign_id, link_id, count)
    db.session.commit()
    return len(rows)


EVENT_COLUMNS = (
    "campaign_id",
    "contact_id",
    "link_id",
    "kind",
    "created_at",
    "machine",
    "machine_reason",
    "user_agent_class",
)


def _note_activity(contact_ids: set[int], latest: datetime) -> None:
    """Move the contacts' activity date to `latest` unless it is already within ACTIVITY_RESOLUTION of it."""
    contacts_table = Contact.__table__
    db.session.execute(
        update(contacts_table)
        .where(
            _among(contacts_table.c.id, contact_ids),
            or_(
                contacts_table.c.last_activity_at.is_(None),
                contacts_table.c.last_activity_at < latest - ACTIVITY_RESOLUTION,
            ),
        )
        .values(last_activity_at=latest, updated_at=contacts_table.c.updated_at)
    )  # activity is not an edit


def settle_clicks(since: datetime, until: datetime) -> None:
    """Count the stored clicks made in [since, until) that are still human (no burst found) as activity.

    One UPDATE for the whole window, dated by its latest click, as write_hits dates a batch: the window spans
    the clicks written since the last settle (seconds while the writer keeps up), far inside
    ACTIVITY_RESOLUTION, and a statement per distinct click time made the writer fall behind under load.
    """
    contact_ids, latest = set(), None
    for contact_id, at in db.session.execute(
        select(TrackingEvent.contact_id, func.max(TrackingEvent.created_at))
        .where(
            TrackingEvent.kind == "click",
            TrackingEvent.machine.is_(False),
            TrackingEvent.created_at >= since,
            TrackingEvent.created_at < until,
        )
        .group_by(TrackingEvent.contact_id)
    ):
        contact_ids.add(contact_id)
        latest = at if latest is None else max(latest, at)
    if latest is not None:
        _note_activity(contact_ids, latest)
        db.session.commit()


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _among(column, values):
    """column IN values; on PostgreSQL `= ANY(array)`: one parameter, not a thousand to render and parse."""
    values = list(values)
    if _postgres():
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def _insert_events(rows: list[dict]) -> None:
    """Insert a batch of events: COPY on PostgreSQL (cheapest by far), executemany elsewhere."""
    if not _postgres():
        db.session.execute(insert(TrackingEvent.__table__), rows)
        return
    driver = db.session.connection().connection.driver_connection
    assert driver is not None  # a live connection: the session just used it
    copy_sql = f"COPY tracking_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for row in rows:
            copy.write_row(tuple(row[c] for c in EVENT_COLUMNS))


def _machine_window() -> timedelta:
    return timedelta(seconds=current_app.config["TRACKING_MACHINE_SECONDS"])


def _sent_times(campaign_ids: set[int], contact_ids: set[int]) -> dict[tuple[int, int], datetime]:
    """When each (campaign, contact) message was handed to the mail server."""
    if not campaign_ids or not contact_ids:
        return {}
    query = select(Delivery.campaign_id, Delivery.contact_id, Delivery.finished_at).where(
        Delivery.campaign_id.in_(campaign_ids),
        _among(Delivery.contact_id, contact_ids),
        Delivery.finished_at.is_not(None),
    )
    return {(c, p): at for c, p, at in db.session.execute(query) if at is not None}


def _mark_click_bursts(rows: list[dict]) -> None:
    """Clicks on several distinct links of one message within a second are a scanner's, not a person's."""
    clicks = [r for r in rows if r["kind"] == "click"]
    if not clicks:
        return
    earliest = min(r["created_at"] for r in clicks) - timedelta(seconds=BURST_SECONDS)
    stored = db.session.execute(
        select(
            TrackingEvent.id,
            TrackingEvent.campaign_id,
            TrackingEvent.contact_id,
            TrackingEvent.link_id,
            TrackingEvent.created_at,
            TrackingEvent.machine,
        ).where(
            TrackingEvent.kind == "click",
            TrackingEvent.created_at >= earliest,
            _among(TrackingEvent.contact_id, {r["contact_id"] for r in clicks}),
        )
    ).all()
    groups: dict[tuple[int, int], list[dict]] = defaultdict(list)
    for row in stored:
        groups[(row.campaign_id, row.contact_id)].append(
            {"id": row.id, "link_id": row.link_id, "created_at": row.created_at, "machine": row.machine}
        )
    for r in clicks:
        groups[(r["campaign_id"], r["contact_id"])].append(r)
    window = timedelta(seconds=BURST_SECONDS)
    relabel = []
    for group in groups.values():
        if len({g["link_id"] for g in group}) < BURST_LINKS:
            continue
        group.sort(key=lambda g: g["created_at"])
        for g in group:
            near = {o["link_id"] for o in group if abs(o["created_at"] - g["created_at"]) <= window}
            if len(near) >= BURST_LINKS and not g["machine"]:
                g["machine"], g["machine_reason"] = True, "click-burst"
                if "id" in g:
                    relabel.append(g["id"])
    if relabel:
        db.session.execute(
            update(TrackingEvent)
            .where(TrackingEvent.id.in_(relabel))
            .values(machine=True, machine_reason="click-burst")
        )


def _add_to_counter(campaign_id: int, link_id: int, count: int) -> None:
    """Add to an anonymous per-link counter, creating it on first use (safe against a concurrent insert)."""
    match = (
        TrackingCounter.campaign_id == campaign_id,
        TrackingCounter.link_id == link_id,
        TrackingCounter.kind == "click",
    )
    for _ in range(2):
        if cast(
            "CursorResult[Any]",
            db.session.execute(
                update(TrackingCounter).where(*match).values(count=TrackingCounter.count + count)
            ),
        ).rowcount:
            return
        try:
            with db.session.begin_nested():
                db.session.add(
                    TrackingCounter(campaign_id=campaign_id, link_id=link_id, kind="click", count=count)
                )
            return
        except IntegrityError:
            continue
