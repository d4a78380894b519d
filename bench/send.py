"""Benchmark of campaign sending end to end: Send → planner → 2 worker processes → DKIM → Postfix's smtp-sink.

N contacts (default 20,000) on one list, half of them with open and click tracking consent, a 20-link
campaign of about 20 KB, an RSA-2048 DKIM key, a real Redis broker and its own PostgreSQL database (created
and dropped) and Redis namespace. Postfix's smtp-sink receives the mail; smtp-source measures the SMTP ceiling
against the same sink first. The sink's own counter proves it received exactly N messages.

    .venv/bin/python bench/send.py [--n 20000] [--threads 8] [--rate 0] [--profile] [--body markdown]

--body picks the campaign: `markdown` (the default, above), `visual` (the gallery's newsletter starter as the
block editor exports it: its <style> block, table rows and inline styles, grown to the same 20 stories and
links, stored in the visual format with its design), or `compare`: both from one seeding, sent in the order
markdown, visual, visual, markdown (A B B A, so a drift of the machine's load weighs on both alike), each
measured alone, then a `compare:` line with each format's mean rate and visual/markdown.

--rate sets SEND_RATE_PER_SECOND (the shared Redis token bucket; 0 = unlimited). --profile records the first
worker with py-spy (if installed; samples while a thread holds the GIL) and prints its top functions.
It also prints the CPU spent per message by the workers, their PostgreSQL backends and the sink, and the rate
that CPU would allow on an idle machine: on a shared machine the measured rate follows the load average.
Last line: `send: N=<n> delivered=<n> rate=<x> msg/s ceiling=<y> msg/s ratio=<r> peak_rss_mb=<m>` (with
--body compare, one such line per send and the `compare:` line last).
"""

import argparse
import io
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SINK = "/usr/sbin/smtp-sink"
SOURCE = "/usr/sbin/smtp-source"
LINKS = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sink_count(path: str) -> int:
    """The sink's running message counter (smtp-sink -c prints `... mesg=N` after each message)."""
    with open(path, "rb") as handle:
        found = re.findall(rb"mesg=(\d+)", handle.read()[-4096:])
    return int(found[-1]) if found else 0


def wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port}")


def ceiling(port: int, messages: int = 20000, size: int = 20000, sessions: int = 8) -> float:
    """smtp-source's rate against the sink: the machine's SMTP ceiling for this message size."""
    started = time.monotonic()
    subprocess.run(
        [SOURCE, "-d", "-s", str(sessions), "-m", str(messages), "-l", str(size), f"127.0.0.1:{port}"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return messages / (time.monotonic() - started)


def body_markdown() -> str:
    """About 14 KB of campaign text with 20 distinct links and a merge field."""
    paragraphs = ["# Hello {{ contact.first_name | default('there') }}", ""]
    filler = (
        "Spring is here and so is our newsletter. We have collected the stories, offers and events of the "
        "month for you, with a few words on each so you can pick what interests you. "
    )
    for i in range(LINKS):
        paragraphs.append(
            f"## Story {i + 1}\n\n{filler * 2}[Read story {i + 1}](https://example.org/stories/{i + 1}"
            f"?utm_source=newsletter&utm_campaign=spring)\n"
        )
    return "\n".join(paragraphs)


def body_visual() -> tuple[str, str]:
    """The gallery's newsletter starter as the block editor exports it (a <style> block, the design wrapped in
    <body>), with the same 20 stories, filler and links as body_markdown(); returns (body, project JSON)."""
    import json

    from mailer.campaigns import visual

    starter = Path(ROOT, "templates", "gallery", "newsletter.html").read_text()
    starter = starter.replace("GALLERY_ASSETS/", "https://mail.example.com/static/gallery/")
    filler = (
        "Spring is here and so is our newsletter. We have collected the stories, offers and events of the "
        "month for you, with a few words on each so you can pick what interests you. "
    )
    story = (
        '<tr><td class="story" style="padding: 0 0 16px 0; font-family: Helvetica, Arial, sans-serif;">'
        '<h2 id="h{i}" style="font-size: 18px; line-height: 1.3; margin: 0 0 6px 0; color: #111418;">'
        'Story {i}</h2><p style="font-size: 15px; line-height: 1.55; margin: 0 0 8px 0; color: #333a45;">'
        "{text}</p>"
        '<a href="https://example.org/stories/{i}?utm_source=newsletter&amp;utm_campaign=spring" '
        'style="font-size: 15px; color: #2f5bd3;">Read story {i}</a></td></tr>'
    )
    stories = "".join(story.format(i=i + 1, text=filler * 2) for i in range(LINKS - 1))
    rows = re.sub(
        r"(?s)<tr>\s*<td style=\"padding: 0;\">.*?</table>\s*</td>\s*</tr>", stories, starter, count=1
    )
    exported = (
        "<style>\n* { box-sizing: border-box; }\nbody { margin: 0; }\n.story h2 { letter-spacing: 0.2px; }\n"
        ".story a { text-decoration: underline; }\n#h1 { color: #2f5bd3; }\n</style>\n"
        f'<body id="ibody">{rows}</body>'
    )
    body = visual.clean_exported_html(exported)
    project = {"pages": [{"frames": []}], "styles": [], "mailer": {"exported": exported}}
    return body, visual.clean_project(json.dumps(project), body)


def seed(app, n: int) -> tuple[int, int]:
    """N contacts confirmed on one list with list consent,
    half with tracking consent; returns the list's and the layout's ids."""
    from mailer.campaigns.models import Layout
    from mailer.consent.ledger import RequestContext, record_consent
    from mailer.consent.models import ConsentEvent
    from mailer.contacts.operations import get_or_create_contact
    from mailer.core.extensions import db
    from mailer.core.security import keyed_hash
    from mailer.delivery.dkim import generate_key
    from mailer.subscriptions.lists import create_list, ensure_tracking_purposes

    with app.app_context():
        tracking = ensure_tracking_purposes()
        news = create_list("Bench news")
        generate_key("example.com", "bench")
        # One real ledger event per purpose; the bulk-loaded consent states point at it (a bench shortcut:
        # the send path reads only the consent-state cache).
        seed_contact, _ = get_or_create_contact("seed@bench.example", source="bench")
        event_ids = {
            p.id: record_consent(seed_contact, p, "granted", RequestContext("bench")).id
            for p in [news.purpose, *tracking]
        }
        db.session.commit()
        layout_html = Path(ROOT, "templates", "layouts", "classic.html").read_text()
        layout = Layout(name="Bench", html=layout_html, verified=True)
        db.session.add(layout)
        db.session.commit()
        layout_id, list_id = layout.id, news.id
        purpose_ids = (news.purpose.id, tracking[0].id, tracking[1].id)
        first_id = seed_contact.id + 1
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            _copy(
                cursor,
                "contacts (id, public_id, email, email_hash, name, attributes, status, source, created_at, "
                "updated_at)",
                (
                    f"{first_id + i}\t{secrets.token_urlsafe(16)}\tr{i}@bench.example\t"
                    f"{keyed_hash(f'email:r{i}@bench.example')}\tReader{i} "
                    f"Bench\t{{}}\tactive\tbench\tnow\tnow\n"
                    for i in range(n)
                ),
            )
            _copy(
                cursor,
                "subscriptions (contact_id, list_id, status, source, created_at, requested_at, confirmed_at)",
                (f"{first_id + i}\t{list_id}\tconfirmed\tbench\tnow\tnow\tnow\n" for i in range(n)),
            )
            rows = []
            for i in range(n):
                wanted = purpose_ids if i % 2 == 0 else purpose_ids[:1]
                rows.extend(f"{first_id + i}\t{p}\tgranted\t{event_ids[p]}\tnow\n" for p in wanted)
            _copy(cursor, "consent_states (contact_id, purpose_id, status, event_id, updated_at)", iter(rows))
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('contacts', 'id'), (SELECT max(id) FROM contacts))"
            )
            cursor.execute("ANALYZE")
            raw.commit()
        finally:
            raw.close()
        assert db.session.get(ConsentEvent, min(event_ids.values())) is not None
        return list_id, layout_id


def make_campaign(app, list_id: int, layout_id: int, body_format: str) -> int:
    """A campaign of 20 stories to the bench list in one body format; returns its id."""
    from mailer.campaigns.models import Campaign, Layout
    from mailer.core.extensions import db
    from mailer.subscriptions.models.lists import MailingList

    with app.app_context():
        body, project = body_visual() if body_format == "visual" else (body_markdown(), "")
        campaign = Campaign(
            name=f"Bench {body_format}",
            subject="Spring news for {{ contact.first_name | default('you') }}",
            preheader="Twenty stories",
            body=body,
            body_format=body_format,
            body_project=project,
            layout=db.session.get(Layout, layout_id),
            track_opens=True,
            track_clicks=True,
            from_name="Bench News",
            from_email="news@example.com",
        )
        campaign.lists = [db.session.get(MailingList, list_id)]
        db.session.add(campaign)
        db.session.commit()
        return campaign.id


def _copy(cursor, target: str, lines) -> None:
    """COPY rows (tab-separated text) into a table in chunks."""
    with cursor.copy(f"COPY {target} FROM STDIN") as copy:
        chunk = io.StringIO()
        for count, line in enumerate(lines, 1):
            chunk.write(line)
            if count % 50000 == 0:
                copy.write(chunk.getvalue())
                chunk = io.StringIO()
        copy.write(chunk.getvalue())


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a process, in MB."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds a process has used so far."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return int(fields[11]) / tick, int(fields[12]) / tick
    except (FileNotFoundError, IndexError, ValueError):
        return 0.0, 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    return sum(cpu_times(pid))


def database_backends(admin: str, name: str) -> list[int]:
    """PostgreSQL server processes serving the bench database (the workers' connections)."""
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        return [
            row[0] for row in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))
        ]


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    if int(handle.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (FileNotFoundError, IndexError, ValueError):
                continue
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=8, help="threads per worker process")
    parser.add_argument("--rate", type=float, default=0, help="SEND_RATE_PER_SECOND (0: unlimited)")
    parser.add_argument(
        "--database",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--profile", action="store_true", help="record worker 1 with py-spy")
    parser.add_argument(
        "--body",
        choices=("markdown", "visual", "compare"),
        default="markdown",
        help="the campaign's body format; compare sends markdown, visual, visual, markdown",
    )
    parser.add_argument(
        "--stop-after",
        type=float,
        default=0,
        help="cancel the campaign after this many seconds (a partial run, e.g. for --n 1000000)",
    )
    args = parser.parse_args()
    for tool in (SINK, SOURCE):
        if not os.path.exists(tool):
            raise SystemExit(
                f"{tool} is missing: apt-get install postfix (see shared/scripts/smtp-ceiling.sh)"
            )

    import psycopg

    name = f"mailer_bench_{uuid.uuid4().hex[:8]}"
    namespace = f"mailer-bench-{uuid.uuid4().hex[:8]}"
    admin = args.database
    parts = urlsplit(admin)
    db_url = urlunsplit(parts._replace(path="/" + name))
    port = free_port()
    tmp = f"/tmp/{name}"
    os.makedirs(tmp, exist_ok=True)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    from cryptography.fernet import Fernet

    env = dict(
        os.environ,
        MAILER_ENV="production",
        SECRET_KEY="bench-secret",
        MAILER_HASH_KEY="bench-hash",
        MAILER_DATA_KEYS=Fernet.generate_key().decode(),  # DKIM keys are sealed at rest
        DATABASE_URL=db_url,
        REDIS_URL=args.redis,
        REDIS_NAMESPACE=namespace,
        SMTP_URL=f"smtp://127.0.0.1:{port}",
        MAILER_BASE_URL="https://mail.example.com",
        MAILER_FROM="Bench News <news@example.com>",
        MAILER_POSTAL_ADDRESS="Bench Ltd, 1 Main St, Berlin",
        SEND_RATE_PER_SECOND=str(args.rate),
        SEND_BATCH_SIZE="1000",
        SEND_CHUNK_SIZE="100",
        WORKER_EMBEDDED="0",
        SCHEDULER_EMBEDDED="0",
    )
    os.environ.update(env)
    sink = subprocess.Popen(
        [SINK, "-c", "-u", "nobody", f"127.0.0.1:{port}", "1000"],
        stdout=open(f"{tmp}/sink.log", "wb"),  # noqa: SIM115 - the sink's log, open as long as it runs
        stderr=subprocess.STDOUT,
    )
    workers: list[subprocess.Popen] = []
    try:
        wait_port(port)
        ceiling_rate = ceiling(port)
        time.sleep(0.5)
        baseline = sink_count(f"{tmp}/sink.log")
        print(
            f"ceiling: {ceiling_rate:.0f} msg/s (smtp-source, 20000 x 20 KB, 8 sessions); "
            f"sink counted {baseline}",
            flush=True,
        )

        from flask_migrate import upgrade

        from mailer import create_app

        app = create_app()
        with app.app_context():
            upgrade(directory=os.path.join(ROOT, "migrations"))
        started = time.monotonic()
        list_id, layout_id = seed(app, args.n)
        print(f"seeded {args.n} contacts in {time.monotonic() - started:.1f} s", flush=True)

        for index in range(2):
            log = open(f"{tmp}/worker{index}.log", "wb")  # noqa: SIM115 - open as long as the worker runs
            workers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "dramatiq",
                        "mailer.worker",
                        "-p",
                        "1",
                        "-t",
                        str(args.threads),
                        "-Q",
                        "campaigns",
                        "campaign_planning",
                    ],  # dedicated sending workers: no other queues polled
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
        worker_pids = [(children(w.pid) or [w.pid])[0] for w in workers]

        plan = ["markdown", "visual", "visual", "markdown"] if args.body == "compare" else [args.body]
        rates: dict[str, list[float]] = {}
        cpu_ms: dict[str, list[float]] = {}
        run = Run(tmp, admin, name, sink, worker_pids, ceiling_rate, set(database_backends(admin, name)))
        for body_format in plan:
            campaign_id = make_campaign(app, list_id, layout_id, body_format)
            if len(plan) > 1:
                print(f"-- {body_format} campaign", flush=True)
            rate, per_message = send_one(app, args, campaign_id, run)
            rates.setdefault(body_format, []).append(rate)
            cpu_ms.setdefault(body_format, []).append(per_message)
        if len(plan) > 1:
            mean = {key: sum(values) / len(values) for key, values in rates.items()}
            cpu = {key: sum(values) / len(values) for key, values in cpu_ms.items()}
            print(
                f"compare: markdown={mean['markdown']:.0f} msg/s "
                f"({', '.join(f'{r:.0f}' for r in rates['markdown'])}) visual={mean['visual']:.0f} msg/s "
                f"({', '.join(f'{r:.0f}' for r in rates['visual'])}) "
                f"visual/markdown={mean['visual'] / mean['markdown']:.3f}; worker CPU per message "
                f"markdown={cpu['markdown']:.2f} ms visual={cpu['visual']:.2f} ms (order A B B A)"
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
        _cleanup(admin, name, args.redis, namespace)
        shutil.rmtree(tmp, ignore_errors=True) if not args.profile else None


@dataclass
class Run:
    """What one send is measured with: the temp folder, the database, the sink and the worker processes."""

    tmp: str
    admin: str
    name: str
    sink: subprocess.Popen
    worker_pids: list[int]
    ceiling_rate: float
    pg_skip: set[int]  # this process's own connections, open before the first send


def send_one(app, args, campaign_id: int, run: Run) -> tuple[float, float]:
    """Press Send on one campaign, wait until it is sent, print its figures; returns its rate (msg/s) and the
    workers' CPU milliseconds per message (steadier than the rate on a shared machine)."""
    from mailer.campaigns import lifecycle as campaigns
    from mailer.campaigns.models import Campaign
    from mailer.core.extensions import db

    tmp, admin, name, sink, worker_pids = run.tmp, run.admin, run.name, run.sink, run.worker_pids
    profiler = None
    baseline = sink_count(f"{tmp}/sink.log")
    with app.app_context():
        campaign = db.session.get(Campaign, campaign_id)
        cpu_before = sum(cpu_seconds(pid) for pid in worker_pids)
        system_before = sum(cpu_times(pid)[1] for pid in worker_pids)
        pg_before = {
            pid: cpu_seconds(pid) for pid in database_backends(admin, name) if pid not in run.pg_skip
        }
        sink_before = cpu_seconds(sink.pid)
        t0 = time.monotonic()
        campaigns.start_campaign(campaign)  # the marketer presses Send
        db.session.commit()
        print(f"Send pressed: compliance preview and compile took {time.monotonic() - t0:.2f} s", flush=True)
        spy = shutil.which("py-spy", path=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
        if args.profile and spy:
            profiler = subprocess.Popen(
                [
                    spy,
                    "record",
                    "-p",
                    str(worker_pids[0]),
                    "-o",
                    f"{tmp}/profile.txt",
                    "-f",
                    "raw",
                    "-r",
                    "200",
                    "--gil",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        last = 0.0
        while True:
            db.session.expire_all()
            campaign = db.session.get(Campaign, campaign_id)
            if campaign.status in ("sent", "paused", "cancelled"):
                break
            if args.stop_after and time.monotonic() - t0 > args.stop_after:
                campaigns.cancel_campaign(campaign)
                db.session.commit()
                print(f"cancelled after {args.stop_after:.0f} s (partial run)", flush=True)
                time.sleep(3)  # let running chunks notice the cancel and write their outcomes
                db.session.expire_all()
                campaign = db.session.get(Campaign, campaign_id)
                break
            if time.monotonic() - last > 5:
                p = campaigns.progress(campaign)
                print(
                    f"  {time.monotonic() - t0:6.1f} s: sent {p['sent']} queued {p['queued']} "
                    f"sending {p['sending']}",
                    flush=True,
                )
                last = time.monotonic()
            db.session.rollback()
            time.sleep(0.05)
        elapsed = time.monotonic() - t0
        final = campaigns.progress(campaign)
        status, reason = campaign.status, campaign.status_reason
    rss = [peak_rss_mb(pid) for pid in worker_pids]
    cpu = sum(cpu_seconds(pid) for pid in worker_pids) - cpu_before
    system_cpu = sum(cpu_times(pid)[1] for pid in worker_pids) - system_before
    sink_cpu = cpu_seconds(sink.pid) - sink_before
    # The workers' PostgreSQL backends (not the connections this process had before the first send).
    pg_cpu = sum(
        cpu_seconds(pid) - pg_before.get(pid, 0.0)
        for pid in database_backends(admin, name)
        if pid not in run.pg_skip
    )
    time.sleep(0.5)
    delivered = sink_count(f"{tmp}/sink.log") - baseline
    rate = final["sent"] / elapsed
    print(f"campaign {status} {reason} in {elapsed:.1f} s: {final}")
    per = max(1, final["sent"])
    total_cpu = cpu + sink_cpu + pg_cpu
    print(
        f"worker peak RSS: {', '.join(f'{r:.0f} MB' for r in rss)}; CPU per message sent: workers "
        f"{1000 * cpu / per:.2f} ms (of which kernel {1000 * system_cpu / per:.2f}), PostgreSQL backends "
        f"{1000 * pg_cpu / per:.2f} ms, smtp-sink {1000 * sink_cpu / per:.2f} ms: "
        f"{1000 * total_cpu / per:.2f} ms in all (an idle machine's {os.cpu_count()} cores would allow "
        f"~{os.cpu_count() * per / total_cpu:.0f} msg/s); load average {os.getloadavg()[0]:.1f}"
    )
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(timeout=60)
        _print_profile(f"{tmp}/profile.txt")
    if args.stop_after:
        print(
            f"PARTIAL RUN: {final['sent']} of {args.n} sent before the cancel; planned "
            f"{final['total']} deliveries; the sink received {delivered}"
        )
    elif delivered != args.n:
        print(f"WARNING: the sink received {delivered} messages, expected {args.n}")
    print(
        f"send: N={args.n} delivered={delivered} rate={rate:.0f} msg/s ceiling={run.ceiling_rate:.0f} msg/s "
        f"ratio={rate / run.ceiling_rate:.3f} peak_rss_mb={max(rss):.0f}",
        flush=True,
    )
    return rate, 1000 * cpu / per


def _print_profile(path: str, top: int = 25) -> None:
    """Self time and inclusive time of the hottest functions in a py-spy raw (collapsed stacks) file."""
    if not os.path.exists(path):
        print("(no profile recorded)")
        return
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        frames = stack.split(";")
        samples = int(count)
        total += samples
        own[frames[-1]] = own.get(frames[-1], 0) + samples
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + samples
    print(f"profile of worker 1 while holding the GIL ({total} samples): inclusive % / self %")
    for frame, samples in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {100 * samples / total:5.1f} {100 * own.get(frame, 0) / total:5.1f}  {frame[:110]}")
    print("by self time:")
    for frame, samples in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {100 * samples / total:5.1f}  {frame[:110]}")


def _cleanup(admin: str, name: str, redis_url: str, namespace: str) -> None:
    """Drop the bench database and every Redis key of its namespace."""
    import psycopg
    import redis

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{namespace}*", count=1000))
    if keys:
        client.delete(*keys)


if __name__ == "__main__":
    main()
