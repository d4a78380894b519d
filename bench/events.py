"""Benchmark of the provider event webhooks under gunicorn and a dramatiq worker on PostgreSQL and Redis.

Seeds contacts with a sent campaign (one delivery each, with our Message-ID), signs a hard-bounce event per
delivery the way each provider does (SES via SNS with a throw-away certificate, whose fetch is the one thing
faked inside the server; SendGrid ECDSA batches of --batch events; Postmark token; Mailgun HMAC), then loads
each provider's endpoint with wrk in interleaved rounds beside the app's trivial baseline endpoint, while one
real worker process (`dramatiq mailer.worker -Q provider_events`) acts on the stored events. Every request
carries events never sent before, so each one is verified, stored, matched, classified, suppressed and logged:
the real work, not a replay.

Two rates per provider and round: `posted` (events answered 200 per second of load: the request side) and
`end_to_end` (events stored in the round / seconds from the load's start until no event of the round is left
pending: posted AND processed). Afterwards it checks that every stored event has its outcome (none pending)
and that the recorded ones each left exactly one bounce row.

    .venv/bin/python bench/events.py [--seconds 3] [--rounds 3] [--connections 8] [--events 6000]
        [--sendgrid-events 40000] [--batch 50]

SendGrid gets its own, larger share of events: with batches of 50 a round posts thousands of events a second,
and a round that runs out of fresh events posts replays (answered as duplicates, acted on by nobody), which
caps `end_to_end` at the prepared count over the round's seconds (1,500 / 3 s = 500 events/s with the old
shared --events 6000: the 229-370 events/s measured before were that cap, not the server's).

Last lines, one per provider:
`events: provider=<name> end_to_end=<events/s> posted=<events/s> baseline=<req/s>
ratio=<end_to_end/baseline>`.
Goal: >= 2,000 events/s end to end.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

from endpoints import _database, _free_port, _median, wait_for_http  # noqa: E402 (bench's own helpers)

PROVIDERS = ("ses", "sendgrid", "postmark", "mailgun")


def bench_app():
    """Gunicorn factory: the real app, the baseline endpoint, and SNS's certificate served from a file."""
    from mailer import create_app
    from mailer.deliverability import provider_ses

    app = create_app()
    with open(os.environ["BENCH_SNS_CERT_FILE"], "rb") as fh:
        pem = fh.read()
    provider_ses.fetch_https = lambda url, limit: pem  # the outside world (Amazon's certificate host)

    @app.get("/bench/baseline")
    def baseline():
        return "ok"

    return app


def seed(count: int) -> list[tuple[str, str]]:
    """Migrate, bulk-insert contacts and a sent campaign with one delivery each; (Message-ID, address)."""
    from flask_migrate import upgrade
    from sqlalchemy import insert, select, update

    from mailer import create_app
    from mailer.campaigns.models import Campaign
    from mailer.contacts.models.contact import Contact
    from mailer.contacts.operations import email_hash
    from mailer.core.clock import utcnow
    from mailer.core.extensions import db
    from mailer.core.ids import new_public_id
    from mailer.delivery.models import Delivery
    from mailer.subscriptions.lists import create_list, ensure_tracking_purposes

    app = create_app()
    with app.app_context():
        upgrade(directory=os.path.join(ROOT, "migrations"))
        ensure_tracking_purposes()
        news = create_list("Bench news")
        now = utcnow()
        db.session.execute(
            insert(Contact),
            [
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
                for i in range(count)
            ],
        )
        sent_at = now - timedelta(hours=1)
        campaign = Campaign(
            name="Bench", subject="Bench", status="sent", started_at=sent_at, finished_at=sent_at
        )
        campaign.lists = [news]
        db.session.add(campaign)
        db.session.flush()
        contacts = db.session.execute(select(Contact.id, Contact.email).order_by(Contact.id)).all()
        db.session.execute(
            insert(Delivery),
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
        db.session.execute(
            update(Delivery).values(message_id="<" + Delivery.id.cast(db.String) + ".bench@example.com>")
        )
        db.session.commit()
        rows = db.session.execute(
            select(Delivery.message_id, Contact.email).join(Contact).order_by(Delivery.id)
        ).all()
        db.engine.dispose()
    return [(m, e) for m, e in rows]


def signed_requests(provider: str, targets: list[tuple[str, str]], batch: int) -> list[tuple[dict, str]]:
    """(headers, body) per request, each about deliveries no other request names."""
    from tests.deliverability import provider_signing as signing

    requests: list[tuple[dict, str]] = []
    if provider == "sendgrid":
        for start in range(0, len(targets), batch):
            items = [
                signing.sendgrid_event("bounce", m, e, status="5.1.1", reason="550 5.1.1 no such user")
                for m, e in targets[start : start + batch]
            ]
            body = json.dumps(items)
            requests.append((signing.sendgrid_headers(body.encode()), body))
        return requests
    for message_id, address in targets:
        if provider == "ses":
            payload = signing.sns_notification(signing.ses_bounce(message_id, address), version="2")
            requests.append(({"Content-Type": "text/plain; charset=UTF-8"}, json.dumps(payload)))
        elif provider == "postmark":
            payload = signing.postmark_bounce(address)
            requests.append(({"X-Webhook-Token": signing.POSTMARK_TOKEN}, json.dumps(payload)))
        else:
            payload = signing.mailgun_payload(signing.mailgun_failed(message_id, address))
            requests.append(({}, json.dumps(payload)))
    return requests


LUA = """
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  reqs = {}
  for line in io.lines("%(file)s") do
    local tab = string.find(line, "\\t", 1, true)
    local h = {["Content-Type"] = "application/json"}
    for name, value in string.gmatch(string.sub(line, 1, tab - 1), "([^|:]+): ([^|]*)") do h[name] = value end
    reqs[#reqs + 1] = wrk.format("POST", "%(path)s", h, string.sub(line, tab + 1))
  end
  i = id
end
function request()
  i = i + %(threads)d
  return reqs[(i %% #reqs) + 1]
end
"""


def run_wrk(url: str, path: str, file: str | None, seconds: int, connections: int, threads: int) -> dict:
    """One wrk load (POSTs of the file's requests, or GETs of the baseline); rps and non-2xx count."""
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "30s"]
    if file is not None:
        script = file + ".lua"
        with open(script, "w") as fh:
            fh.write(LUA % {"file": file, "path": path, "threads": threads})
        command += ["-s", script]
    out = subprocess.run(
        [*command, url + path], capture_output=True, text=True, check=True, timeout=seconds + 120
    ).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "bad": int(bad.group(1)) if bad else 0,
    }


def write_requests(path: str, requests: list[tuple[dict, str]]) -> None:
    with open(path, "w") as fh:
        for headers, body in requests:
            fh.write("|".join(f"{k}: {v}" for k, v in headers.items()) + "\t" + body + "\n")


def count_rows(database_url: str) -> dict[str, tuple[int, int, int, int]]:
    """Per provider: receipts, receipts still pending, receipts recorded, bounce rows."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT provider, count(*), count(*) FILTER (WHERE outcome = 'pending'), "
            "count(*) FILTER (WHERE outcome = 'recorded') FROM provider_event_receipts GROUP BY 1"
        ).fetchall()
        receipts = {row[0]: row[1:] for row in rows}
        bounces = dict(conn.execute("SELECT source, count(*) FROM bounce_events GROUP BY 1").fetchall())
    return {p: (*receipts.get(p, (0, 0, 0)), bounces.get(p, 0)) for p in PROVIDERS}


def wait_processed(database_url: str, provider: str, timeout: float) -> tuple[int, float]:
    """Poll until none of the provider's receipts is pending; (receipts in all, when that was seen)."""
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            total, pending = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE outcome = 'pending') FROM provider_event_receipts "
                "WHERE provider = %s",
                (provider,),
            ).fetchone()
            if not pending:
                return total, time.monotonic()
            if time.monotonic() > deadline:
                raise SystemExit(f"{pending} {provider} events still pending after {timeout:.0f}s")
            time.sleep(0.02)  # the bench's poll of the database, not a test's synchronisation


def start_worker(env: dict, log_path: str) -> subprocess.Popen:
    """One worker process (2 threads) on the provider_events queue, as the compose file runs them."""
    log = open(log_path, "wb")  # noqa: SIM115 - open as long as the worker runs
    worker = subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "mailer.worker", "-p", "1", "-t", "2", "-Q", "provider_events"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while b"ready for action" not in open(log_path, "rb").read():  # noqa: SIM115
        if time.monotonic() > deadline or worker.poll() is not None:
            raise SystemExit("the worker did not start; see " + log_path)
        time.sleep(0.1)
    return worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=3, help="duration of each load (default 3)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; medians reported (default 3)"
    )
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument(
        "--events", type=int, default=6000, help="signed events prepared per one-event-per-request provider"
    )
    parser.add_argument(
        "--sendgrid-events", type=int, default=40000, help="signed events prepared for SendGrid's batches"
    )
    parser.add_argument("--batch", type=int, default=50, help="events per SendGrid request (default 50)")
    parser.add_argument(
        "--drain-timeout", type=float, default=600, help="longest wait for the worker after a load (s)"
    )
    parser.add_argument(
        "--database",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install -y wrk")

    from tests.deliverability import provider_signing as signing

    run_id = uuid.uuid4().hex[:8]
    db_name = f"mailer_bench_events_{run_id}"
    database_url = _database(args.database, db_name)
    port = _free_port()
    tmp = tempfile.mkdtemp(prefix="mailer-bench-events-")
    cert_file = os.path.join(tmp, "sns.pem")
    with open(cert_file, "wb") as fh:
        fh.write(signing.SNS_CERT_PEM)
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
        SES_SNS_TOPIC_ARNS=signing.TOPIC,
        SENDGRID_WEBHOOK_PUBLIC_KEY=signing.SENDGRID_PUBLIC,
        POSTMARK_WEBHOOK_TOKEN=signing.POSTMARK_TOKEN,
        MAILGUN_WEBHOOK_SIGNING_KEY=signing.MAILGUN_KEY,
        PROVIDER_WEBHOOK_RATE_LIMIT="1000000 per minute",
        BENCH_SNS_CERT_FILE=cert_file,
    )
    os.environ.update(env)
    server = worker = None
    print(
        f"load average before: {os.getloadavg()[0]:.1f} (ratios are per round against its baseline)",
        flush=True,
    )
    try:
        shares = {p: args.sendgrid_events if p == "sendgrid" else args.events for p in PROVIDERS}
        print(f"seeding {sum(shares.values())} contacts with a sent delivery each ...", flush=True)
        targets = seed(sum(shares.values()))
        files, per_request = {}, {}
        start = 0
        for provider in PROVIDERS:
            mine = targets[start : start + shares[provider]]
            start += shares[provider]
            # Split into rounds (+ a warm-up share): no request is ever sent twice.
            parts = args.rounds + 1
            size = len(mine) // parts
            per_request[provider] = args.batch if provider == "sendgrid" else 1
            for part in range(parts):
                files[provider, part] = os.path.join(tmp, f"{provider}-{part}.txt")
                chunk = mine[part * size : (part + 1) * size]
                write_requests(files[provider, part], signed_requests(provider, chunk, args.batch))
        server = subprocess.Popen(
            [
                os.path.join(os.path.dirname(sys.executable), "gunicorn"),
                *("-w", "2", "--threads", "4", "-k", "gthread", "-b", f"127.0.0.1:{port}"),
                *("--pythonpath", os.path.join(ROOT, "bench"), "--chdir", ROOT, "--log-level", "warning"),
                "events:bench_app()",
            ],
            env=env,
            start_new_session=True,
        )
        wait_for_http(port)
        worker = start_worker(env, os.path.join(tmp, "worker.log"))
        url = f"http://127.0.0.1:{port}"
        for provider in PROVIDERS:  # warm-up: imports, pools, the SNS certificate cache
            run_wrk(url, f"/hooks/providers/{provider}", files[provider, args.rounds], 1, 4, 1)
            wait_processed(database_url, provider, args.drain_timeout)
        runs: dict[str, list[dict]] = {name: [] for name in ("baseline", *PROVIDERS)}
        for number in range(args.rounds):
            print(
                f"round {number + 1}: baseline and {', '.join(PROVIDERS)} for {args.seconds}s each",
                flush=True,
            )
            runs["baseline"].append(
                run_wrk(url, "/bench/baseline", None, args.seconds, args.connections, args.wrk_threads)
            )
            for provider in PROVIDERS:
                before, _ = wait_processed(database_url, provider, args.drain_timeout)
                started = time.monotonic()
                result = run_wrk(
                    url,
                    f"/hooks/providers/{provider}",
                    files[provider, number],
                    args.seconds,
                    args.connections,
                    args.wrk_threads,
                )
                after, drained = wait_processed(database_url, provider, args.drain_timeout)
                result["stored"] = after - before
                result["end_to_end"] = (after - before) / (drained - started)
                result["drain"] = drained - started - args.seconds
                runs[provider].append(result)
        rows = count_rows(database_url)
    finally:
        for process in (server, worker):
            if process is not None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)
        _database(args.database, db_name, drop_only=True)
    baselines = [r["rps"] for r in runs["baseline"]]
    for provider in PROVIDERS:
        prepared = (args.sendgrid_events if provider == "sendgrid" else args.events) // (args.rounds + 1)
        results = runs[provider]
        answered = sum(r["requests"] for r in results) * per_request[provider]
        bad = sum(r["bad"] for r in results)
        receipts, pending, recorded, bounces = rows[provider]
        wrapped = any(r["requests"] * per_request[provider] > prepared for r in results)
        print(
            f"  {provider}: {answered} events answered in the rounds, {bad} non-2xx answers, "
            f"{receipts} receipts ({pending} pending, {recorded} recorded), {bounces} bounce rows "
            f"(warm-up included); drain after each load: "
            + ", ".join(f"{r['drain']:.1f}s" for r in results)
            + ("; WARNING: a round ran out of fresh events (raise --events)" if wrapped else "")
            + ("" if pending == 0 and recorded == bounces else "; WARNING: events not processed once each")
        )
    for provider in PROVIDERS:
        posted = [r["rps"] * per_request[provider] for r in runs[provider]]
        end_to_end = [r["end_to_end"] for r in runs[provider]]
        ratio = _median([rate / base for rate, base in zip(end_to_end, baselines, strict=False)])
        print(
            f"events: provider={provider} end_to_end={_median(end_to_end):.0f} posted={_median(posted):.0f} "
            f"baseline={_median(baselines):.0f} ratio={ratio:.2f}"
        )


if __name__ == "__main__":
    main()
