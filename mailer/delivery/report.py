"""Read-only reports on a campaign's deliveries: how many are in each state and why, and the uncertain ones.

Reasons are grouped by their wording with times and addresses taken out, so "will retry at 14:05 UTC: 451 …"
and "will retry at 14:06 UTC: 451 …" count as one reason, and no recipient's address reaches a report.
"""

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext
from sqlalchemy import func, select

from mailer.contacts.models.contact import Contact
from mailer.core import counters
from mailer.core.extensions import db
from mailer.delivery.models import DELIVERY_STATUSES, Delivery, DeliveryStatus

TOP_REASONS = 5
UNCERTAIN_PAGE_SIZE = 50
# Only these states can carry a reason worth grouping; "sent" rows (the bulk of a big send) are only counted.
STATES_WITH_REASONS = tuple(status for status in DELIVERY_STATUSES if status != DeliveryStatus.SENT)

# Each state's name and meaning on the campaign's page (lazy: read in the page's language).
STATE_LABELS = {
    "queued": (
        lazy_gettext("Queued"),
        lazy_gettext("Waiting for their turn, or for their next try after a temporary failure."),
    ),
    "sending": (
        lazy_gettext("In flight"),
        lazy_gettext("Claimed by a worker and being handed to the relay right now."),
    ),
    "sent": (lazy_gettext("Sent"), lazy_gettext("Accepted by the relay.")),
    "skipped": (
        lazy_gettext("Skipped"),
        lazy_gettext(
            "Not sent: no longer allowed to receive it at send time (unsubscribed, suppressed, restricted …)."
        ),
    ),
    "failed": (
        lazy_gettext("Failed"),
        lazy_gettext("Refused for good by the receiving side, or given up after every retry."),
    ),
    "bounced": (
        lazy_gettext("Bounced"),
        lazy_gettext("Accepted by the relay, then reported back as undeliverable."),
    ),
    "uncertain": (
        lazy_gettext("Uncertain"),
        lazy_gettext("The relay may or may not have received it: resending may deliver twice."),
    ),
}

_CLOCK = re.compile(
    r"\b\d{4}-\d{2}-\d{2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?Z?|\b\d{1,2}:\d{2}(?::\d{2})?\b"
)
_ADDRESS = re.compile(r"<?[^\s<>@\"',;:]+@[^\s<>@\"',;:]+\.[A-Za-z]{2,}>?")


def reason_group(reason: str) -> str:
    """The wording a reason shares with its like: times become "…", addresses become "<address>"."""
    text = _ADDRESS.sub("<address>", reason or "")
    return " ".join(_CLOCK.sub("…", text).split())


def _state_row(status: str, count: int, reasons: Counter) -> dict:
    label, meaning = (str(text) for text in STATE_LABELS.get(status, (status.capitalize(), "")))
    top = [{"reason": reason, "count": n} for reason, n in reasons.most_common(TOP_REASONS) if reason]
    return {
        "status": status,
        "label": label,
        "meaning": meaning,
        "count": count,
        "reasons": top,
        "other_reasons": sum(reasons.values()) - sum(item["count"] for item in top),
    }


def state_report(campaign_id: int) -> list[dict]:
    """Every delivery state in pipeline order with its count (from the counter table, kept by triggers) and
    its most common reasons (one query over the deliveries that have a reason)."""
    totals = counters.totals("delivery_counts", campaign_id=campaign_id)
    counts = {status: n for (status,), n in totals.items()}
    grouped: dict[str, Counter] = {status: Counter() for status in DELIVERY_STATUSES}
    rows = db.session.execute(
        select(Delivery.status, Delivery.reason, func.count())
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.status.in_(STATES_WITH_REASONS),
            Delivery.reason != "",
        )
        .group_by(Delivery.status, Delivery.reason)
    )
    for status, reason, count in rows:
        grouped.setdefault(status, Counter())[reason_group(reason)] += count
    return [
        _state_row(status, counts.get(status, 0), grouped.get(status, Counter()))
        for status in (*DELIVERY_STATUSES, *sorted(set(counts) - set(DELIVERY_STATUSES)))
    ]


def relay_counts(campaign_id: int) -> list[tuple[str, int]]:
    """How many of the campaign's messages each relay accepted, most first (failover shows as two), from the
    counter table kept by triggers (counting the deliveries read every one of them)."""
    totals = counters.totals(
        "delivery_relay_counts", campaign_id=campaign_id, status=DeliveryStatus.SENT.value
    )
    by_relay: Counter = Counter()
    for (relay, _tracking), n in totals.items():  # also grouped by the recipients' tracking consent
        by_relay[relay] += n
    return sorted(((relay, n) for relay, n in by_relay.items() if n), key=lambda row: (-row[1], row[0]))


def states_json(report: list[dict]) -> dict:
    """The report as the API and the progress JSON give it: {status: {count, reasons[]}}."""
    return {
        row["status"]: {
            "count": row["count"],
            "reasons": row["reasons"],
            "other_reasons": row["other_reasons"],
        }
        for row in report
    }


@dataclass
class UncertainDelivery:
    """One uncertain delivery as staff see it: an opaque contact reference, never the address."""

    id: int
    contact_public_id: str
    reason: str
    attempts: int
    handed_at: datetime | None


def uncertain_page(
    campaign_id: int, after: int = 0, limit: int = UNCERTAIN_PAGE_SIZE
) -> tuple[list[UncertainDelivery], int | None]:
    """One page of the campaign's uncertain deliveries (keyset: id > after) and the next page's cursor."""
    rows = db.session.execute(
        select(
            Delivery.id,
            Contact.public_id,
            Delivery.reason,
            Delivery.attempts,
            func.coalesce(Delivery.handed_at, Delivery.claimed_at),
        )
        .join(Contact, Contact.id == Delivery.contact_id)
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.status == DeliveryStatus.UNCERTAIN,
            Delivery.id > after,
        )
        .order_by(Delivery.id)
        .limit(limit + 1)
    ).all()
    page = [UncertainDelivery(row[0], row[1], reason_group(row[2]), row[3], row[4]) for row in rows[:limit]]
    return page, (page[-1].id if len(rows) > limit else None)


def uncertain_count(campaign_id: int, delivery_ids: list[int] | None = None) -> int:
    """How many of the campaign's deliveries (all, or these ids) are uncertain now."""
    query = (
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.campaign_id == campaign_id, Delivery.status == DeliveryStatus.UNCERTAIN)
    )
    if delivery_ids is not None:
        query = query.where(Delivery.id.in_(delivery_ids))
    return db.session.execute(query).scalar_one()
