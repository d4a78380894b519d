"""Benchmark of the dashboard's week and a list's consent coverage and growth: the counts they ran before
(count(*) over the ledger, subscriptions joined with consent states) against the counter tables that
replace them (core/counters.py), alternated in one run on an existing database (the audience bench's,
bench/audience.py --reuse, after `flask db upgrade`), and whether each pair agrees.

    .venv/bin/python bench/consent_counters.py --url postgresql://postgres@127.0.0.1:5432/dash_1m [--repeat 5]

Last line: `consent_counters: week_ms=<old>/<new> coverage_ms=<old>/<new> growth_ms=<old>/<new> equal=<bool>`.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from sqlalchemy import func, select  # noqa: E402  (after the path above)

from mailer import create_app  # noqa: E402
from mailer.analytics.campaigns import GRANTING, LEAVING, time_bucket  # noqa: E402
from mailer.consent.models import ConsentEvent, ConsentState  # noqa: E402
from mailer.core import counters  # noqa: E402
from mailer.core.clock import utcnow  # noqa: E402
from mailer.core.extensions import db  # noqa: E402
from mailer.subscriptions.models.lists import MailingList, Subscription  # noqa: E402


def _old_week(since) -> dict[str, int]:
    return {
        action: db.session.execute(
            select(func.count()).where(ConsentEvent.action == action, ConsentEvent.created_at >= since)
        ).scalar_one()
        for action in ("requested", "confirmed")
    }


def _old_coverage(list_id: int) -> dict[int, int]:
    subscribers = select(Subscription.contact_id).where(
        Subscription.list_id == list_id, Subscription.status == "confirmed"
    )
    return dict(
        db.session.execute(
            select(ConsentState.purpose_id, func.count())
            .where(ConsentState.contact_id.in_(subscribers), ConsentState.status == "granted")
            .group_by(ConsentState.purpose_id)
        ).all()
    )


def _old_growth(purpose_id: int, start) -> dict:
    bucket = time_bucket(ConsentEvent.created_at, "day").label("bucket")
    rows = db.session.execute(
        select(bucket, ConsentEvent.action, func.count())
        .where(
            ConsentEvent.purpose_id == purpose_id,
            ConsentEvent.created_at >= start,
            ConsentEvent.action.in_(GRANTING + LEAVING),
        )
        .group_by(bucket, ConsentEvent.action)
    )
    return {(day.date(), action): n for day, action, n in rows}


def _new_growth(purpose_id: int, start) -> dict:
    days: dict = {}
    for (hour, action), n in counters.consent_events_by_hour(purpose_id, GRANTING + LEAVING, start).items():
        days[(hour.date(), action)] = days.get((hour.date(), action), 0) + n
    return days


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": args.url})
    with app.app_context():
        first = db.session.execute(select(MailingList).order_by(MailingList.id).limit(1)).scalar_one()
        list_id, purpose_id = first.id, first.purpose.id
        today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        start = today - timedelta(days=89)
        since = utcnow() - timedelta(days=7)
        pairs = {
            "week": (
                lambda: _old_week(since),
                lambda: counters.consent_events_since(("requested", "confirmed"), since),
            ),
            "coverage": (
                lambda: _old_coverage(list_id),
                lambda: {p: n for (p,), n in counters.totals("list_consent_counts", list_id=list_id).items()},
            ),
            "growth": (lambda: _old_growth(purpose_id, start), lambda: _new_growth(purpose_id, start)),
        }
        samples: dict[str, list[list[float]]] = {name: [[], []] for name in pairs}
        equal = True
        for _ in range(args.repeat):
            for name, (old, new) in pairs.items():
                answers = []
                for side, run in enumerate((old, new)):
                    started = time.perf_counter()
                    answers.append(run())
                    samples[name][side].append((time.perf_counter() - started) * 1000)
                    db.session.rollback()
                if answers[0] != answers[1]:
                    equal = False
                    print(f"differ {name}: old {answers[0]} new {answers[1]}")
        medians = {name: [statistics.median(side) for side in sides] for name, sides in samples.items()}
        for name, (old_ms, new_ms) in medians.items():
            print(f"{name:9s} old {old_ms:9.1f} ms   counters {new_ms:7.1f} ms  (median of {args.repeat})")
        print(
            "consent_counters: "
            + " ".join(f"{name}_ms={old:.0f}/{new:.1f}" for name, (old, new) in medians.items())
            + f" equal={equal}"
        )


if __name__ == "__main__":
    main()
