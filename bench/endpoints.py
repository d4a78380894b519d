"""Benchmark of the recipient endpoints under gunicorn: open pixel, click redirect and one-click unsubscribe.

Runs the real app under gunicorn (2 workers x 4 threads, gthread) on PostgreSQL and Redis, loads each endpoint
with wrk (Debian package `wrk`) beside a minimal endpoint of the same app as the baseline, in interleaved
rounds, prints the median requests/s and p99 latency of each and its ratio to the baseline of the same round,
then stops gunicorn normally and checks that every tracked request became a tracking event. Loopback only;
each load lasts --seconds.

    .venv/bin/python bench/endpoints.py [--seconds 3] [--rounds 7] [--connections 32] [--database postgresql://...]

Last line: `endpoints: baseline=<rps> pixel=<ratio> click=<ratio> unsubscribe=<ratio> lost=<n>`.
Targets: pixel and click >= 0.7 of the baseline with zero lost events; one-click unsubscribe >= 0.4.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def bench_app():
    """Gunicorn factory: the real app, plus the minimal endpoint used as the baseline."""
    from mailer import create_app

    app = create_app()

    @app.get("/bench/baseline")
    def baseline():
        return "ok"

    return app


# --- setup --------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database(admin_url: str, name: str, drop_only: bool = False) -> str:
    """(Re)create an empty database next to admin_url; return its URL."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(admin_url)._replace(path="/" + name))


def seed(tracked: int, unsubscribers: int, tmp: str) -> dict[str, str]:
    """Migrate, then bulk-insert contacts, a sent campaign
    with 3 links, and write each endpoint's URL list."""
    from flask_migrate import upgrade
    from sqlalchemy import insert, select

    from mailer import create_app
    from mailer.campaigns.models import Campaign, Link
    from mailer.consent.ledger import RequestContext, record_consent
    from mailer.consent.models import ConsentState
    from mailer.contacts.models.contact import Contact
    from mailer.contacts.operations import email_hash
    from mailer.core import urls as recipient_links
    from mailer.core.bulk import copy_rows
    from mailer.core.clock import utcnow
    from mailer.core.extensions import db
    from mailer.core.ids import new_public_id
    from mailer.delivery.models import Delivery
    from mailer.subscriptions.lists import create_list, ensure_tracking_purposes
    from mailer.subscriptions.models.lists import Subscription

    app = create_app()
    with app.app_context():
        upgrade(directory=os.path.join(ROOT, "migrations"))
        opens, clicks = ensure_tracking_purposes()
        news = create_list("Bench news")
        db.session.flush()
        now = utcnow()
        rows = [
            {
                "public_id": new_public_id(),
                "email": f"bench{i}@example.com",
                "email_hash": email_hash(f"bench{i}@example.com"),
                "attributes": {},
                "status": "active",
                "source": "bench",
                "created_at": now,
                "updated_at": now,
            }
            for i in range(tracked + unsubscribers)
        ]
        copy_rows(db.session.connection(), Contact.__table__, rows)
        contacts = db.session.execute(select(Contact.id, Contact.public_id).order_by(Contact.id)).all()
        # One genuine ledger event per purpose anchors the bulk-inserted consent states (bench data only).
        anchors = {
            p.id: record_consent(
                db.session.get(Contact, contacts[0].id), p, "confirmed", RequestContext("bench")
            ).id
            for p in (news.purpose, opens, clicks)
        }
        copy_rows(
            db.session.connection(),
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
                for c in contacts
            ],
        )
        states = [
            {
                "contact_id": c.id,
                "purpose_id": news.purpose.id,
                "status": "granted",
                "event_id": anchors[news.purpose.id],
                "updated_at": now,
            }
            for c in contacts[1:]
        ]
        states += [
            {
                "contact_id": c.id,
                "purpose_id": p.id,
                "status": "granted",
                "event_id": anchors[p.id],
                "updated_at": now,
            }
            for c in contacts[1:tracked]
            for p in (opens, clicks)
        ]
        copy_rows(db.session.connection(), ConsentState.__table__, states)
        sent_at = now - timedelta(days=1)
        campaign = Campaign(
            name="Bench",
            subject="Bench",
            status="sent",
            track_opens=True,
            track_clicks=True,
            started_at=sent_at,
            finished_at=sent_at,
        )
        campaign.lists = [news]
        db.session.add(campaign)
        db.session.flush()
        links = [Link(campaign_id=campaign.id, url=f"https://example.org/article/{i}") for i in range(3)]
        db.session.add_all(links)
        db.session.flush()
        db.session.execute(
            insert(Delivery),  # rows with Python-side defaults (COPY would leave them null)
            [
                {
                    "campaign_id": campaign.id,
                    "contact_id": c.id,
                    "list_id": news.id,
                    "status": "sent",
                    "finished_at": sent_at,
                }
                for c in contacts
            ],
        )
        db.session.commit()
        base = app.config["MAILER_BASE_URL"]
        trackers, leavers = contacts[:tracked], contacts[tracked:]
        paths = {
            "baseline": ["/bench/baseline"],
            "pixel": [
                recipient_links.open_pixel_url(c.public_id, campaign.public_id)[len(base) :] for c in trackers
            ],
            "click": [
                recipient_links.click_url(c.public_id, campaign.public_id, links[i % 3].id)[len(base) :]
                for i, c in enumerate(trackers)
            ],
            "unsubscribe": [
                recipient_links.unsubscribe_url(c.public_id, news.public_id, campaign.public_id)[len(base) :]
                for c in leavers
            ],
        }
        db.engine.dispose()
    files = {}
    for name, items in paths.items():
        files[name] = os.path.join(tmp, f"{name}.txt")
        with open(files[name], "w") as fh:
            fh.write("\n".join(items) + "\n")
    return files


# --- load ---------------------------------------------------------------------------------------------------

LUA = """
local counter = 0
local threads = {}
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  paths = {}
  for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
  i = id
  headers = {["User-Agent"] = "%(ua)s"%(extra_headers)s}
  bad = {}
end
function request()
  i = i + %(threads)d
  return wrk.format("%(method)s", paths[(i %% #paths) + 1], headers, %(body)s)
end
function response(status, headers, body)
  if status >= 400 then bad[status] = (bad[status] or 0) + 1 end
end
function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    local counts = thread:get("bad")
    for status, n in pairs(counts) do io.write(string.format("status %%d: %%d\\n", status, n)) end
  end
end
"""


def run_wrk(
    url: str,
    paths_file: str,
    seconds: int,
    connections: int,
    threads: int,
    method: str = "GET",
    body: str | None = None,
    content_type: str | None = None,
) -> dict:
    """One wrk run; returns rps, p99 (ms), completed requests and non-2xx/3xx answers."""
    script = paths_file + ".lua"
    extra = f', ["Content-Type"] = "{content_type}"' if content_type else ""
    with open(script, "w") as fh:
        fh.write(
            LUA
            % {
                "paths": paths_file,
                "ua": UA,
                "extra_headers": extra,
                "threads": threads,
                "method": method,
                "body": f'"{body}"' if body else "nil",
            }
        )
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            script,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\b", out, re.M)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    for status, count in re.findall(r"^status (\d+): (\d+)$", out, re.M):
        print(f"  {count} answers with status {status}")
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p99": float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan"),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "bad": int(bad.group(1)) if bad else 0,
        "socket_errors": sum(int(x) for x in errors.groups()[:3]) if errors else 0,
        "timeouts": int(errors.group(4)) if errors else 0,
    }


def wait_for_http(port: int, timeout: float = 60) -> None:
    """Poll the baseline endpoint until gunicorn answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /bench/baseline HTTP/1.0\r\nHost: x\r\n\r\n")
                if s.recv(64).split(b"\r\n")[0].endswith(b" 200 OK"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def count_rows(database_url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        kinds = dict(conn.execute("SELECT kind, count(*) FROM tracking_events GROUP BY kind").fetchall())
        withdrawn = conn.execute("SELECT count(*) FROM consent_events WHERE action = 'withdrawn'").fetchone()[
            0
        ]
        unsubscribed = conn.execute(
            "SELECT count(*) FROM subscriptions WHERE status = 'unsubscribed'"
        ).fetchone()[0]
    return {
        "open": kinds.get("open", 0),
        "click": kinds.get("click", 0),
        "withdrawn": withdrawn,
        "unsubscribed": unsubscribed,
    }


def wait_until_written(database_url: str, quiet: float = 1.3, limit: float = 15.0) -> None:
    """Wait until the tracking writers have written the previous load's tail (no new event for `quiet`
    seconds, just over TRACKING_FLUSH_SECONDS).

    wrk opens its connections at the start of a load and keeps them; a worker whose writer thread is busy at
    that moment (the previous load's last batch) accepts none of them, and the other worker then serves the
    whole load alone (half the machine idle, seen as rounds at half speed). Each load still carries the writes
    of its own events made during the load; only the last batch of each is written between loads.
    """
    import psycopg

    deadline = time.monotonic() + limit
    with psycopg.connect(database_url, autocommit=True) as conn:
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            newest = conn.execute("SELECT max(id) FROM tracking_events").fetchone()[0]
            if newest != last:
                last, since = newest, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.1)


def verify_ledger() -> str:
    """The consent ledger's chain after the load (what `flask consent verify` proves)."""
    from mailer import create_app
    from mailer.consent.ledger import verify_chain
    from mailer.core.extensions import db

    app = create_app()
    with app.app_context():
        result = verify_chain()
        db.session.remove()
        db.engine.dispose()
    if result.ok:
        return f"intact, {result.checked} events verified"
    return f"BROKEN at event {result.bad_event_id}: {result.reason}"


LOADS = {
    "baseline": {},
    "pixel": {},
    "click": {},
    "unsubscribe": {
        "method": "POST",
        "body": "List-Unsubscribe=One-Click",
        "content_type": "application/x-www-form-urlencoded",
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=3, help="duration of each load (default 3)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=7,
        help="interleaved rounds of the four loads; medians are reported (default 7)",
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--tracked", type=int, default=5000, help="contacts with tracking consent")
    parser.add_argument(
        "--unsubscribers",
        type=int,
        default=100000,
        help="contacts for the unsubscribe load (enough that no round runs out of people to unsubscribe)",
    )
    parser.add_argument(
        "--database",
        help="PostgreSQL server (a scratch database is created beside it, then dropped)",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install -y wrk")

    run_id = uuid.uuid4().hex[:8]
    db_name = f"mailer_bench_{run_id}"
    database_url = _database(args.database, db_name)
    port = _free_port()
    env = dict(
        os.environ,
        MAILER_ENV="production",
        SECRET_KEY=f"bench-{run_id}",
        MAILER_HASH_KEY=f"bench-hash-{run_id}",
        DATABASE_URL=database_url,
        REDIS_URL=args.redis,
        REDIS_NAMESPACE=f"mailer-bench-{run_id}",
        MAILER_BASE_URL=f"http://127.0.0.1:{port}",
        MAILER_POSTAL_ADDRESS="Bench Ltd, 1 Loop Street",
    )
    os.environ.update(env)
    tmp = tempfile.mkdtemp(prefix="mailer-bench-")
    server = None
    print(
        f"load average before: {os.getloadavg()[0]:.1f} (other processes skew every number; ratios are "
        f"taken per round against that round's baseline)",
        flush=True,
    )
    try:
        print(
            f"seeding {args.tracked} tracked and {args.unsubscribers} unsubscribing contacts ...", flush=True
        )
        files = seed(args.tracked, args.unsubscribers, tmp)
        rounds_files = _split(
            files["unsubscribe"], args.rounds
        )  # every round unsubscribes people not yet gone
        server = subprocess.Popen(
            [
                os.path.join(os.path.dirname(sys.executable), "gunicorn"),
                "-w",
                "2",
                "--threads",
                "4",
                "-k",
                "gthread",
                "-b",
                f"127.0.0.1:{port}",
                "--pythonpath",
                os.path.join(ROOT, "bench"),
                "--chdir",
                ROOT,
                "--graceful-timeout",
                "30",
                "--log-level",
                "warning",
                "endpoints:bench_app()",
            ],
            env=env,
            start_new_session=True,
        )
        wait_for_http(port)
        url = f"http://127.0.0.1:{port}"
        warmup = {
            name: run_wrk(url, files[name], 2, 8, 1)  # imports, connection pools, link cache
            for name in ("baseline", "pixel", "click")
        }
        runs: dict[str, list[dict]] = {name: [] for name in LOADS}
        for number in range(args.rounds):
            for name, kwargs in LOADS.items():
                print(f"round {number + 1}: {name} for {args.seconds}s ...", flush=True)
                paths = rounds_files[number] if name == "unsubscribe" else files[name]
                wait_until_written(database_url)
                runs[name].append(
                    run_wrk(url, paths, args.seconds, args.connections, args.wrk_threads, **kwargs)
                )
        before_shutdown = count_rows(database_url)
        os.killpg(server.pid, signal.SIGTERM)  # a normal shutdown: workers flush their buffers on exit
        server.wait(timeout=60)
        server = None
        rows = count_rows(database_url)
        rows["ledger"] = verify_ledger()
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)
        _database(args.database, db_name, drop_only=True)
        _drop_redis(args.redis, f"mailer-bench-{run_id}")
    report(runs, warmup, rows, before_shutdown)


def _split(paths_file: str, parts: int) -> list[str]:
    """Cut a URL list into `parts` files of distinct URLs."""
    lines = Path(paths_file).read_text().split()
    size = max(1, len(lines) // parts)
    names = []
    for number in range(parts):
        name = f"{paths_file}.{number}"
        with open(name, "w") as fh:
            fh.write("\n".join(lines[number * size : (number + 1) * size]) + "\n")
        names.append(name)
    return names


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def report(runs: dict[str, list[dict]], warmup: dict, rows: dict, before_shutdown: dict) -> None:
    """Per-endpoint medians, the ratio to the baseline of the same round, and the lost-event check."""
    baselines = [r["rps"] for r in runs["baseline"]]
    print(
        f"\n{'endpoint':<12} {'req/s':>8} {'p99 ms':>8} {'ratio':>6} {'rounds (req/s)':>22} {'errors':>7} "
        f"{'timeouts':>8}"
    )
    ratios = {}
    for name, results in runs.items():
        ratios[name] = _median([r["rps"] / base for r, base in zip(results, baselines, strict=False)])
        per_round = " ".join(f"{r['rps']:.0f}" for r in results)
        errors = sum(r["bad"] + r["socket_errors"] for r in results)
        timeouts = sum(r["timeouts"] for r in results)  # wrk gives up on an answer after 2 s
        print(
            f"{name:<12} {_median([r['rps'] for r in results]):>8.0f} "
            f"{_median([r['p99'] for r in results]):>8.1f} "
            f"{ratios[name]:>6.2f} {per_round:>22} {errors:>7} {timeouts:>8}"
        )
    print(
        f"\ntracking events: opens={rows['open']} clicks={rows['click']} "
        f"(written before the shutdown: opens={before_shutdown['open']} clicks={before_shutdown['click']})"
    )
    print(
        f"unsubscribes: {rows['unsubscribed']} subscriptions ended, {rows['withdrawn']} ledger events "
        f"({'one per unsubscribe' if rows['unsubscribed'] == rows['withdrawn'] else 'MISMATCH'}); "
        f"ledger chain {rows['ledger']}"
    )
    lost = _lost(runs, warmup, rows)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print(
        f"endpoints: baseline={_median(baselines):.0f} pixel={ratios['pixel']:.2f} "
        f"click={ratios['click']:.2f} unsubscribe={ratios['unsubscribe']:.2f} lost={lost}"
    )


def _lost(runs: dict[str, list[dict]], warmup: dict, rows: dict) -> int:
    """Tracked requests answered (warm-up included) without a stored event.

    wrk counts answers it read; a request still in flight when a load ends may be served and recorded without
    being counted, so `recorded` can exceed `answered` by up to the number of connections, never fall short.
    """
    lost = 0
    for name, kind in (("pixel", "open"), ("click", "click")):
        answered = sum(r["requests"] - r["bad"] for r in [*runs[name], warmup[name]])
        print(f"{name}: {answered} answered, {rows[kind]} recorded")
        lost += max(0, answered - rows[kind])
    return lost


def _drop_redis(url: str, namespace: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{namespace}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


if __name__ == "__main__":
    main()
