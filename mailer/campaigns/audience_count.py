"""The compliance preview at any audience size: kept while nothing it counts has changed, counted in the
background (with progress) when the audience is too large to count while a page waits.

Counting a million subscribers by the rule takes seconds (eligibility.exclusion_counts reads every
subscription, contact, consent state and suppression involved). The stored preview carries `key`, a digest of
what its numbers depend on, read cheaply: the ledger's newest event (every consent, confirmation,
unsubscribe, objection, restriction and erasure appends one), the counter tables' totals (subscriptions per
list and status, contacts per status), the suppressions per reason and the campaign's lists, exclusion lists
and segments. While the key is unchanged (and the preview younger than MAX_AGE; SEGMENT_MAX_AGE when segments
decide who is in, as their conditions read fields, tags and activity too) the page shows the stored preview
with the time it was counted. The send re-checks each recipient by the rule at the moment it goes anyway.
"""

import hashlib
import json
import uuid
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from mailer.campaigns import eligibility
from mailer.campaigns.models import Campaign, campaign_exclusions, campaign_lists, campaign_segments
from mailer.consent.models import ConsentEvent
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.suppression import Suppression
from mailer.core import counters
from mailer.core.broker import enqueue_after_commit
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.segments.models import Segment

MAX_AGE = timedelta(hours=1)
SEGMENT_MAX_AGE = timedelta(minutes=10)
STALE_AFTER = timedelta(minutes=5)  # a background count with no progress for this long was lost: count again
RANGES = 10  # a background count goes through the contacts in this many id ranges, saving progress after each


def version(campaign_id: int) -> str:
    """A digest of everything the campaign's preview counts depend on (a few index and counter reads)."""
    targeting = [
        sorted(db.session.execute(select(column).where(table.c.campaign_id == campaign_id)).scalars())
        for table, column in (
            (campaign_lists, campaign_lists.c.list_id),
            (campaign_exclusions, campaign_exclusions.c.list_id),
            (campaign_segments, campaign_segments.c.segment_id),
        )
    ]
    trees = db.session.execute(
        select(Segment.id, Segment.tree)
        .join(campaign_segments, campaign_segments.c.segment_id == Segment.id)
        .where(campaign_segments.c.campaign_id == campaign_id)
        .order_by(Segment.id)
    ).all()
    suppressions = db.session.execute(
        select(Suppression.reason, func.count(), func.max(Suppression.id))
        .group_by(Suppression.reason)
        .order_by(Suppression.reason)
    ).all()
    parts = {
        "targeting": targeting,
        "segments": [[segment_id, tree] for segment_id, tree in trees],
        "ledger": db.session.execute(select(func.max(ConsentEvent.id))).scalar(),
        "subscriptions": sorted(map(list, counters.totals("subscription_counts").items()), key=str),
        "contacts": sorted(map(list, counters.totals("contact_counts").items()), key=str),
        "suppressions": [list(row) for row in suppressions],
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _age_limit(campaign: Campaign) -> timedelta:
    return SEGMENT_MAX_AGE if campaign.segments else MAX_AGE


def is_fresh(campaign: Campaign) -> bool:
    """Does the stored preview still hold: counted recently enough, and nothing it counts changed since?"""
    stored = campaign.compliance or {}
    if "recipients" not in stored or not stored.get("key") or not stored.get("computed_at"):
        return False
    if utcnow() - datetime.fromisoformat(stored["computed_at"]) > _age_limit(campaign):
        return False
    return stored["key"] == version(campaign.id)


def counting(campaign: Campaign) -> dict | None:
    """The background count of this campaign's preview while one is under way (None: none, or it was lost)."""
    state = (campaign.compliance or {}).get("counting")
    if not state or utcnow() - datetime.fromisoformat(state["updated_at"]) > STALE_AFTER:
        return None
    return state


def _contacts_bound() -> tuple[int, int]:
    low, high = db.session.execute(select(func.min(Contact.id), func.max(Contact.id))).one()
    return (low or 0) - 1, high or 0


def _small_audience() -> bool:
    limit = current_app.config["COMPLIANCE_INLINE_CONTACTS"]
    return sum(counters.totals("contact_counts").values()) <= limit


def count_now(campaign: Campaign) -> dict:
    """Count the preview in one query and store it with its key (the caller commits)."""
    key = version(campaign.id)
    result = eligibility.exclusion_counts(campaign.id)
    result.update(computed_at=utcnow().isoformat(timespec="seconds"), key=key)
    campaign.compliance = result
    return result


def preview_for_page(campaign: Campaign, again: bool = False) -> dict:
    """What a page shows: the stored preview while it holds, else a count now (small audiences) or a
    background count started (or under way), whose progress the stored preview then carries. `again`: count
    even if the stored preview holds. The caller commits."""
    if counting(campaign) or (not again and is_fresh(campaign)):
        return campaign.compliance
    if _small_audience():
        return count_now(campaign)
    now = utcnow().isoformat(timespec="seconds")
    token = uuid.uuid4().hex
    campaign.compliance = {"counting": {"token": token, "done": 0, "started_at": now, "updated_at": now}}
    enqueue_after_commit(db.session, "count_compliance", campaign.id, token)
    return campaign.compliance


def _save_progress(campaign_id: int, token: str, **changes) -> bool:
    """Write the count's progress, or its result (`result`), unless the count was superseded (a draft saved,
    another count started): False then, and the count stops. Commits."""
    campaign = db.session.get(Campaign, campaign_id, with_for_update=True, populate_existing=True)
    state = (campaign.compliance or {}).get("counting") if campaign is not None else None
    if campaign is None or state is None or state.get("token") != token:
        db.session.rollback()
        return False
    if "result" in changes:
        campaign.compliance = changes["result"]
    else:
        state = {**state, **changes, "updated_at": utcnow().isoformat(timespec="seconds")}
        campaign.compliance = {"counting": state}
    db.session.commit()
    return True


def run_count(campaign_id: int, token: str) -> None:
    """The background count: the rule over the contacts in id ranges, progress saved after each range."""
    key = version(campaign_id)
    low, high = _contacts_bound()
    step = max(1, -(-(high - low) // RANGES))
    recipients, excluded = 0, {reason: 0 for reason in eligibility.REASONS if reason}
    for after in range(low, high, step):
        part = eligibility.exclusion_counts(campaign_id, after, min(after + step, high))
        db.session.commit()  # no snapshot held between ranges
        recipients += part["recipients"]
        for reason, n in part["excluded"].items():
            excluded[reason] += n
        done = round(100 * (min(after + step, high) - low) / max(1, high - low))
        if not _save_progress(campaign_id, token, done=done):
            return
    result = {
        "recipients": recipients,
        "excluded": excluded,
        "computed_at": utcnow().isoformat(timespec="seconds"),
        "key": key,
    }
    _save_progress(campaign_id, token, result=result)
