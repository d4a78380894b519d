"""Benchmark of the one-click unsubscribe group commit in PostgreSQL: leave_lists_pg on groups, as a web
process calls it (mailer/subscriptions/leaving.py), without HTTP.

A scratch database is migrated and seeded with contacts subscribed to one list with granted consent, then each
round unsubscribes fresh people in groups of --group under three variants, alternated in one sitting:
- current: the functions and triggers as migrated;
- previous: leave_lists v3 with ledger_append v1 (before migration 0062), triggers as migrated;
- no_triggers: the current functions with every user trigger off (the counters of core/counters.py not kept):
  the baseline, what the group commit costs without counting.
Medians of the rounds are printed; the last line reads `unsubscribe_groups: group=<n> current=<per s>
previous=<per s> no_triggers=<per s> current_ratio=<current/no_triggers>`.
The scratch database is dropped at the end.

    .venv/bin/python bench/unsubscribe_groups.py --group 3 --rounds 6
"""

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TRIGGERED = ("subscriptions", "consent_states", "consent_events")


def _sql(package: str, name: str) -> str:
    return (ROOT / "mailer" / package / "sql" / f"{name}.sql").read_text()


def _seed(url: str, contacts: int):
    """Migrate and seed; returns the app, the list's public id and the contacts' public ids."""
    os.environ["DATABASE_URL"] = url.replace("postgresql://", "postgresql+psycopg://", 1)
    from flask_migrate import upgrade
    from sqlalchemy import select

    from mailer import create_app
    from mailer.consent.ledger import RequestContext, record_consent
    from mailer.consent.models import ConsentState
    from mailer.contacts.models.contact import Contact
    from mailer.contacts.operations import email_hash
    from mailer.core.bulk import copy_rows
    from mailer.core.clock import utcnow
    from mailer.core.extensions import db
    from mailer.core.ids import new_public_id
    from mailer.subscriptions.lists import create_list
    from mailer.subscriptions.models.lists import Subscription

    app = create_app()
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        news = create_list("News")
        db.session.flush()
        now = utcnow()
        people = [
            {
                "public_id": new_public_id(),
                "email": f"person{i}@example.com",
                "email_hash": email_hash(f"person{i}@example.com"),
                "attributes": {},
                "status": "active",
                "source": "bench",
                "language": "it" if i % 2 else None,  # two notices in force, as in a real audience
                "created_at": now,
                "updated_at": now,
            }
            for i in range(contacts + 1)
        ]
        connection = db.session.connection()
        copy_rows(connection, Contact.__table__, people)
        found = db.session.execute(select(Contact.id, Contact.public_id).order_by(Contact.id)).all()
        first = db.session.get(Contact, found[0].id)
        anchor = record_consent(first, news.purpose, "confirmed", RequestContext("bench")).id
        rest = found[1:]
        copy_rows(
            connection,
            Subscription.__table__,
            [
                {
                    "contact_id": c.id,
                    "list_id": news.id,
                    "status": "confirmed",
                    "source": "bench",
                    "created_at": now,
                    "requested_at": now,
                    "confirmed_at": now,
                }
                for c in rest
            ],
        )
        copy_rows(
            connection,
            ConsentState.__table__,
            [
                {
                    "contact_id": c.id,
                    "purpose_id": news.purpose.id,
                    "status": "granted",
                    "event_id": anchor,
                    "updated_at": now,
                }
                for c in rest
            ],
        )
        db.session.commit()
        return app, news.public_id, [c.public_id for c in rest]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=40000)
    parser.add_argument("--group", type=int, default=3, help="unsubscribes per group commit (default 3)")
    parser.add_argument("--per-round", type=int, default=400, help="unsubscribes per variant and round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument(
        "--database",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="PostgreSQL server (a scratch database is created beside it, then dropped)",
    )
    args = parser.parse_args()
    variants = ("current", "previous", "no_triggers")
    if args.contacts < args.per_round * args.rounds * len(variants):
        parser.error("--contacts must cover per-round × rounds × 3 unsubscribes")

    import psycopg

    name = f"mailer_bench_groups_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.database, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(args.database)._replace(path="/" + name))
    try:
        print(f"seeding {args.contacts} subscribed contacts ...", flush=True)
        app, list_id, people = _seed(url, args.contacts)
        from mailer.consent.ledger import RequestContext
        from mailer.subscriptions.leaving import ListJob, leave_lists_pg

        functions = {
            "current": _sql("subscriptions", "leave_lists_v4") + _sql("consent", "ledger_append_v2"),
            "previous": _sql("subscriptions", "leave_lists_v3") + _sql("consent", "ledger_append_v1"),
        }
        functions["no_triggers"] = functions["current"]
        rates: dict[str, list[float]] = {v: [] for v in variants}
        ctx = RequestContext("one-click-unsubscribe", "192.0.2.9", "Bench/1.0")
        with psycopg.connect(url, autocommit=True) as raw, app.app_context():
            raw.execute("VACUUM ANALYZE")
            position = 0
            for number in range(args.rounds):
                for variant in variants if number % 2 == 0 else variants[::-1]:
                    raw.execute(functions[variant])
                    switch = "DISABLE" if variant == "no_triggers" else "ENABLE"
                    for table in TRIGGERED:
                        raw.execute(f"ALTER TABLE {table} {switch} TRIGGER USER")
                    batch = people[position : position + args.per_round]
                    position += args.per_round
                    started = time.perf_counter()
                    for i in range(0, len(batch), args.group):
                        group = [ListJob(p, list_id, None, ctx) for p in batch[i : i + args.group]]
                        leave_lists_pg(raw, group)
                        assert all(job.status == "done" for job in group), [job.status for job in group]
                    rates[variant].append(len(batch) / (time.perf_counter() - started))
            raw.execute(functions["current"])
            for table in TRIGGERED:
                raw.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        medians = {v: statistics.median(r) for v, r in rates.items()}
        for variant, values in rates.items():
            print(f"{variant:<12} {medians[variant]:>8.0f}/s   rounds {' '.join(f'{x:.0f}' for x in values)}")
        print(
            f"unsubscribe_groups: group={args.group} current={medians['current']:.0f} "
            f"previous={medians['previous']:.0f} no_triggers={medians['no_triggers']:.0f} "
            f"current_ratio={medians['current'] / medians['no_triggers']:.2f}"
        )
    finally:
        with psycopg.connect(args.database, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


if __name__ == "__main__":
    main()
