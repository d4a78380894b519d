"""Benchmark of journeys: N contacts (default 100,000) enter a 3-step journey (email → wait → email) at once.

Same setup as bench/send.py (its own PostgreSQL database and Redis namespace, 2 worker processes, DKIM,
Postfix's smtp-sink): first the campaign of bench/send.py to the same N contacts (the baseline, measured in
the same run), then the journey. "Existing contacts too" enrols everyone in one INSERT … SELECT at its
start; the scheduler's job (`advance_journeys`, queued here as the scheduler would) moves them through
the first email; when every welcome is final the wait is cut short (due times moved to now) and the last
email goes.

Reported: step sends/s of each email step (from the journey's start, resp. the end of the wait, to the last
delivery final), the scheduler's passes (step entries, from the first to the last step event)
and its database load (PostgreSQL commits, rows written and read, backend CPU per 1,000 step sends).

    .venv/bin/python bench/journeys.py [--n 100000] [--threads 8]

Last line: `journeys: N=<n> step_sends_per_s=<x> (email 1 <a>, email 2 <b>) baseline_campaign=<y> msg/s …`.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, ROOT)
sys.path.insert(0, BENCH)

import send as send_bench  # noqa: E402  (bench/send.py: seeding, sink, CPU helpers)


def pg_counters(admin: str, name: str) -> dict[str, int]:
    """The bench database's cumulative activity counters."""
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, tup_returned, tup_fetched "
            "FROM pg_stat_database WHERE datname = %s",
            (name,),
        ).fetchone()
    keys = ("commits", "inserted", "updated", "deleted", "returned", "fetched")
    return dict(zip(keys, row, strict=True))


def table_reads(db_url: str) -> dict[str, tuple[int, int, int]]:
    """Per table of the bench database: (sequential scans, rows they read, rows read through indexes)."""
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT relname, seq_scan, seq_tup_read, COALESCE(idx_tup_fetch, 0) FROM pg_stat_user_tables"
        ).fetchall()
    return {name: (scans, seq, idx) for name, scans, seq, idx in rows}


def top_reads(before: dict, after: dict, per_k: float, top: int = 6) -> str:
    """The tables read most during the journey (rows per 1,000 step sends; seq scans counted)."""
    delta = {
        name: tuple(a - b for a, b in zip(after[name], before.get(name, (0, 0, 0)), strict=True))
        for name in after
    }
    ranked = sorted(delta.items(), key=lambda item: -(item[1][1] + item[1][2]))[:top]
    return ", ".join(
        f"{name} seq {seq * per_k:.0f} ({scans} scans) idx {idx * per_k:.0f}"
        for name, (scans, seq, idx) in ranked
        if seq + idx
    )


def wait_final(db, step_ids: list[int], n: int, t0: float, label: str) -> float:
    """Poll until the step's n deliveries are final; the seconds it took since t0."""
    from sqlalchemy import text

    from mailer.core.broker import enqueue

    last = compacted = time.monotonic()
    while True:
        if time.monotonic() - compacted >= 60:
            # What the scheduler's compact_counters job does every minute: fold the counters' delta rows (else
            # they pile up with no scheduler running, and summing them is most of what this poll reads).
            enqueue("compact_counters")
            compacted = time.monotonic()
        # The per-campaign status counters (a minute's delta rows at most), not a count over every delivery:
        # the poll itself must not be what the database load per step send measures.
        rows = dict(
            db.session.execute(
                text(
                    "SELECT status, SUM(n) FROM delivery_counts WHERE campaign_id IN (SELECT campaign_id "
                    "FROM journey_step_campaigns WHERE step_id = ANY(:steps)) GROUP BY status"
                ),
                {"steps": step_ids},
            ).all()
        )
        db.session.rollback()
        final = sum(int(v) for k, v in rows.items() if k not in ("queued", "sending"))
        if final >= n:
            return time.monotonic() - t0
        if time.monotonic() - last > 5:
            print(f"  {label} {time.monotonic() - t0:6.1f} s: {rows}", flush=True)
            last = time.monotonic()
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=8, help="threads per worker process")
    parser.add_argument(
        "--database",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args()
    for tool in (send_bench.SINK, send_bench.SOURCE):
        if not os.path.exists(tool):
            raise SystemExit(f"{tool} is missing: apt-get install postfix")

    import psycopg
    from cryptography.fernet import Fernet

    name = f"mailer_bench_j_{uuid.uuid4().hex[:8]}"
    namespace = f"mailer-bench-j-{uuid.uuid4().hex[:8]}"
    admin = args.database
    db_url = urlunsplit(urlsplit(admin)._replace(path="/" + name))
    port = send_bench.free_port()
    tmp = f"/tmp/{name}"
    os.makedirs(tmp, exist_ok=True)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = dict(
        os.environ,
        MAILER_ENV="production",
        SECRET_KEY="bench-secret",
        MAILER_HASH_KEY="bench-hash",
        MAILER_DATA_KEYS=Fernet.generate_key().decode(),
        DATABASE_URL=db_url,
        REDIS_URL=args.redis,
        REDIS_NAMESPACE=namespace,
        SMTP_URL=f"smtp://127.0.0.1:{port}",
        MAILER_BASE_URL="https://mail.example.com",
        MAILER_FROM="Bench News <news@example.com>",
        MAILER_POSTAL_ADDRESS="Bench Ltd, 1 Main St, Berlin",
        SEND_RATE_PER_SECOND="0",
        SEND_BATCH_SIZE="1000",
        SEND_CHUNK_SIZE="100",
        JOURNEY_BATCH_SIZE=os.environ.get("JOURNEY_BATCH_SIZE", "1000"),
        WORKER_EMBEDDED="0",
        SCHEDULER_EMBEDDED="0",
    )
    os.environ.update(env)
    sink = subprocess.Popen(
        [send_bench.SINK, "-c", "-u", "nobody", f"127.0.0.1:{port}", "1000"],
        stdout=open(f"{tmp}/sink.log", "wb"),  # noqa: SIM115 - the sink's log, open as long as it runs
        stderr=subprocess.STDOUT,
    )
    workers: list[subprocess.Popen] = []
    try:
        send_bench.wait_port(port)
        from flask_migrate import upgrade
        from sqlalchemy import func, select, text

        from mailer import create_app
        from mailer.campaigns import lifecycle as campaigns
        from mailer.campaigns.models import Campaign
        from mailer.core.broker import enqueue
        from mailer.core.extensions import db
        from mailer.journeys import operations as journeys
        from mailer.journeys.models import JourneyEvent, JourneyStep
        from mailer.journeys.steps import StepInput

        app = create_app()
        with app.app_context():
            upgrade(directory=os.path.join(ROOT, "migrations"))
        started = time.monotonic()
        list_id, layout_id = send_bench.seed(app, args.n)
        campaign_id = send_bench.make_campaign(app, list_id, layout_id, "markdown")
        print(f"seeded {args.n} contacts in {time.monotonic() - started:.1f} s", flush=True)
        for index in range(2):
            log = open(f"{tmp}/worker{index}.log", "wb")  # noqa: SIM115 - open as long as the worker runs
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "dramatiq", "mailer.worker", "-p", "1", "-t", str(args.threads)],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + 60
        while sum(Path(f"{tmp}/worker{i}.log").read_bytes().count(b"ready for action") for i in range(2)) < 2:
            if time.monotonic() > deadline:
                raise SystemExit("workers did not start; see " + tmp)
            time.sleep(0.1)
        worker_pids = [(send_bench.children(w.pid) or [w.pid])[0] for w in workers]

        with app.app_context():
            # The baseline: bench/send.py's campaign to the same contacts, on the same workers, now.
            campaign = db.session.get(Campaign, campaign_id)
            t0 = time.monotonic()
            campaigns.start_campaign(campaign)
            db.session.commit()
            while True:
                db.session.expire_all()
                if db.session.get(Campaign, campaign_id).status in ("sent", "paused", "cancelled"):
                    break
                db.session.rollback()
                time.sleep(0.2)
            sent = campaigns.progress(db.session.get(Campaign, campaign_id))["sent"]
            baseline = sent / (time.monotonic() - t0)
            print(f"baseline campaign: {sent} sent, {baseline:.0f} msg/s", flush=True)

            journey = journeys.create_journey(
                journeys.JourneyInput(
                    name="Bench welcome",
                    trigger="list_confirmed",
                    list_id=list_id,
                    layout_id=layout_id,
                    include_existing=True,
                )
            )
            body = send_bench.body_markdown()
            first = journeys.add_step(
                journey, StepInput(kind="send", subject="Welcome {{ contact.first_name }}", body=body)
            )
            journeys.add_step(journey, StepInput(kind="wait", wait_mode="duration", wait_days=2))
            last = journeys.add_step(journey, StepInput(kind="send", subject="Day two", body=body))
            first_id, last_id = first.id, last.id
            db.session.commit()

            counters_before = pg_counters(admin, name)
            tables_before = table_reads(db_url)
            pg_before = set(send_bench.database_backends(admin, name))
            cpu_before = sum(send_bench.cpu_seconds(pid) for pid in worker_pids)
            t0 = time.monotonic()
            enrolled = journeys.activate(db.session.get(type(journey), journey.id))  # "existing contacts too"
            db.session.commit()
            enrolled_s = time.monotonic() - t0
            print(
                f"{enrolled} contacts entered the journey in {enrolled_s:.2f} s (one INSERT … SELECT)",
                flush=True,
            )
            enqueue("advance_journeys")  # what the scheduler queues every JOURNEY_TICK_SECONDS
            first_s = wait_final(db, [first_id], args.n, t0, "email 1")
            db.session.execute(
                text("UPDATE journey_enrolments SET due_at = now() AT TIME ZONE 'UTC' WHERE state = 'active'")
            )
            db.session.commit()
            t1 = time.monotonic()
            enqueue("advance_journeys")
            last_s = wait_final(db, [last_id], args.n, t1, "email 2")
            counters = {k: v - counters_before[k] for k, v in pg_counters(admin, name).items()}
            tables_after = table_reads(db_url)
            pg_cpu = sum(
                send_bench.cpu_seconds(p)
                for p in send_bench.database_backends(admin, name)
                if p not in pg_before
            )
            cpu = sum(send_bench.cpu_seconds(pid) for pid in worker_pids) - cpu_before
            steps = (
                db.session.execute(select(JourneyStep.id).where(JourneyStep.journey_id == journey.id))
                .scalars()
                .all()
            )
            span = db.session.execute(
                select(func.min(JourneyEvent.at), func.max(JourneyEvent.at), func.count()).where(
                    JourneyEvent.step_id.in_(steps), JourneyEvent.kind == "entered"
                )
            ).one()
            passes_s = (span[1] - span[0]).total_seconds() if span[0] else 0.0
        time.sleep(0.5)
        delivered = send_bench.sink_count(f"{tmp}/sink.log")
        total_steps = 2 * args.n
        rate_1, rate_2 = args.n / first_s, args.n / last_s
        overall = total_steps / (first_s + last_s)
        per_k = 1000 / total_steps
        print(
            f"scheduler passes: {span[2]} step entries in {passes_s:.1f} s of passes "
            f"(first to last step event, both emails, the wait cut short)"
        )
        print(
            "database per 1,000 step sends: "
            + ", ".join(f"{k} {v * per_k:.0f}" for k, v in counters.items())
            + f"; PostgreSQL backends' CPU {1000 * pg_cpu * per_k:.0f} ms"
            + f", workers' CPU {1000 * cpu * per_k:.0f} ms"
            + f"; load average {os.getloadavg()[0]:.1f}"
        )
        print("rows read per 1,000 step sends, by table: " + top_reads(tables_before, tables_after, per_k))
        if delivered != 3 * args.n:
            print(f"WARNING: the sink received {delivered} messages, expected {3 * args.n}")
        print(
            f"journeys: N={args.n} step_sends_per_s={overall:.0f} "
            f"(email 1 {rate_1:.0f}, email 2 {rate_2:.0f}) "
            f"baseline_campaign={baseline:.0f} msg/s ratio={overall / baseline:.2f} enrol_s={enrolled_s:.2f} "
            f"delivered={delivered}"
        )
    finally:
        for w in workers:
            try:
                os.killpg(w.pid, signal.SIGTERM)
                w.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(w.pid, signal.SIGKILL)
        sink.terminate()
        sink.wait(timeout=10)
        send_bench._cleanup(admin, name, args.redis, namespace)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
