"""Honest statistics per list for marketers: growth from the ledger and consent coverage, aggregates only."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from mailer.analytics.campaigns import GRANTING, LEAVING, as_datetime
from mailer.consent.models import Purpose
from mailer.core import counters
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.subscriptions.models.lists import MailingList


@dataclass
class Coverage:
    """How many of a list's confirmed subscribers consent to one other purpose."""

    purpose: Purpose
    granted: int
    of: int

    @property
    def share(self) -> float | None:
        return self.granted / self.of if self.of else None


@dataclass
class ListStats:
    """Everything the list stats page shows."""

    mailing_list: MailingList
    counts: dict[str, int]
    growth: dict
    coverage: list[Coverage] = field(default_factory=list)


def _counts(mailing_list: MailingList) -> dict[str, int]:
    """The list's subscriptions per status, from the counter table (core/counters.py)."""
    return {
        status: n for (status,), n in counters.totals("subscription_counts", list_id=mailing_list.id).items()
    }


def list_growth(mailing_list: MailingList, days: int = 90) -> dict:
    """Per day: confirmed sign-ups, unsubscribes and subscribers at the end of the day (from the ledger)."""
    purpose = mailing_list.purpose
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=days - 1)
    joined: dict[datetime, int] = {}
    left: dict[datetime, int] = {}
    if purpose is not None:  # per hour from the counter table (core/counters.py), summed into days
        by_hour = counters.consent_events_by_hour(purpose.id, GRANTING + LEAVING, start)
        for (hour, action), n in by_hour.items():
            target = joined if action in GRANTING else left
            day = as_datetime(hour).replace(hour=0)
            target[day] = target.get(day, 0) + n
    confirmed = _counts(mailing_list).get("confirmed", 0)
    days_list = [start + timedelta(days=i) for i in range(days)]
    totals, running = [], confirmed
    for day in reversed(days_list):  # walk back from today's count
        totals.append(running)
        running -= joined.get(day, 0) - left.get(day, 0)
    totals.reverse()
    return {
        "labels": [d.strftime("%d %b") for d in days_list],
        "dates": [d.strftime("%Y-%m-%d") for d in days_list],
        "datasets": [
            {"key": "joined", "label": "Confirmed sign-ups", "data": [joined.get(d, 0) for d in days_list]},
            {"key": "left", "label": "Unsubscribes", "data": [left.get(d, 0) for d in days_list]},
            {
                "key": "subscribers",
                "label": "Subscribers",
                "data": [max(0, t) for t in totals],
                "axis": "total",
            },
        ],
    }


def consent_coverage(mailing_list: MailingList) -> list[Coverage]:
    """For each consent purpose other than lists:
    how many confirmed subscribers of this list said yes to it."""
    total = _counts(mailing_list).get("confirmed", 0)
    purposes = (
        db.session.execute(
            select(Purpose).where(Purpose.kind != "list").order_by(Purpose.kind.desc(), Purpose.name)
        )
        .scalars()
        .all()
    )
    # pairs of a confirmed subscription and a granted consent, kept by the database (core/counters.py)
    granted = {
        purpose_id: n
        for (purpose_id,), n in counters.totals("list_consent_counts", list_id=mailing_list.id).items()
    }
    return [Coverage(p, granted.get(p.id, 0), total) for p in purposes]


def list_stats(mailing_list: MailingList, days: int = 90) -> ListStats:
    """Subscription counts, growth over time and consent coverage per purpose."""
    counts = _counts(mailing_list)
    return ListStats(mailing_list, counts, list_growth(mailing_list, days), consent_coverage(mailing_list))
