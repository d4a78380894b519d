"""Benchmark of `consent verify` on a seeded PostgreSQL database: PostgreSQL's span walk (what `flask consent
verify` runs there) against the row-by-row walk in Python (SQLite's, and PostgreSQL's before), A B B A in one
sitting on the same database, with the machine's load. Both must give the same report.

    .venv/bin/python bench/ledger_verify.py --name audience_bench_1000000_verify [--rounds 1] [--only span]

Seed the database first with bench/audience.py (--reuse --keep). Last line: `ledger_verify: events=<n>
span_s=<s> rows_s=<s> ratio=<rows/span>` (medians).
"""

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from mailer import create_app  # noqa: E402  (after the path above)
from mailer.consent import chain, verify  # noqa: E402
from mailer.consent.walk import walk_rows  # noqa: E402
from mailer.consent.walk_sql import walk_spans  # noqa: E402
from mailer.core.extensions import db  # noqa: E402


def _load() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True, help="the seeded database (audience_bench_<contacts>...)")
    parser.add_argument("--server", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument("--rounds", type=int, default=1, help="A B B A rounds")
    parser.add_argument("--only", choices=("span", "rows"), help="time one walk only (twice a round)")
    parser.add_argument("--workers", type=int, default=verify.default_workers(), help="spans at once")
    args = parser.parse_args()
    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": f"{args.server}/{args.name}"})
    walks = {
        "span": lambda: walk_spans(db.engine, 0, chain.GENESIS_HASH, None, args.workers),
        "rows": lambda: walk_rows(db.session.connection(), 0, chain.GENESIS_HASH),
    }
    order = ["span", "rows", "rows", "span"] if args.only is None else [args.only] * 2
    seconds: dict[str, list[float]] = {name: [] for name in walks}
    reports = {}
    try:
        with app.app_context():
            for _ in range(args.rounds):
                for name in order:
                    load = _load()
                    started, cpu = time.perf_counter(), time.process_time()
                    report = walks[name]()
                    took, cpu = time.perf_counter() - started, time.process_time() - cpu
                    db.session.rollback()
                    seconds[name].append(took)
                    reports[name] = (report.ok, report.checked, report.bad_event_id, report.reason)
                    print(
                        f"{name:5s} ok={report.ok} events={report.checked:,} {took:7.1f}s "
                        f"(python cpu {cpu:.1f}s, load before {load})",
                        flush=True,
                    )
            if len(set(reports.values())) > 1:
                raise SystemExit(f"the walks disagree: {reports}")
            span = statistics.median(seconds["span"]) if seconds["span"] else float("nan")
            rows = statistics.median(seconds["rows"]) if seconds["rows"] else float("nan")
            events = next(iter(reports.values()))[1]
            print(
                f"ledger_verify: events={events} span_s={span:.1f} rows_s={rows:.1f} ratio={rows / span:.1f} "
                f"load_after={_load()}"
            )
    finally:
        app.extensions["mailer.workers"].broker.close()


if __name__ == "__main__":
    main()
