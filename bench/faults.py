"""Fault-injection benchmark: campaign sending in a production deployment while things break.

Deploys as the README's Production section says (its own PostgreSQL cluster and Redis on spare ports,
gunicorn, two `dramatiq mailer.worker` processes, the scheduler) with a recording SMTP relay, imports N
confirmed contacts with `flask import-contacts --mode has-consent`, then for each fault creates a fresh
campaign and sends it from the admin over HTTP, injects the fault once a third of it has gone, and waits for
the campaign to finish. Per fault it prints what the relay accepted (delivered, duplicates, missing), what the
product reports (deliveries per state with their reasons, the campaign's status), whether it finished without
a person's help and how long it took; then one table. Goal for every row: 0 missing except deliveries reported
uncertain, 0 duplicates except deliveries reported uncertain, at most threads x SEND_PIPELINE_DEPTH uncertain
per killed worker (none for the other faults), 550 refusals reported as bounced, finished without help.

    .venv/bin/python bench/faults.py [--n 5000] [--only kill-one,relay-451] [--rate 50]

A campaign that pauses itself is resumed over HTTP and one that is still unfinished at the deadline is
cancelled (both counted as "needed help"), so the next fault starts clean. Last line:
`faults: N=<n> rows=<r> meeting the goal=<m>`.
"""

import argparse
import os
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.support.deployment import AdminClient, Deployment  # noqa: E402
from tests.support.fault_report import Row, describe, table  # noqa: E402
from tests.support.processes import DeploymentError, free_port, wait_for  # noqa: E402
from tests.support.relay import RecordingRelay  # noqa: E402

WORKER_THREADS = 4
VERP_ID = re.compile(r"\+([0-9a-f]+)-")
FINAL = ("sent", "cancelled")


@dataclass(frozen=True)
class Timing:
    """How long each fault lasts and how long a campaign may take; the CI test uses shorter ones."""

    outage_s: float = 20  # relay refusing connections / answering 451
    workers_down_s: float = 10  # all workers dead before they are restarted
    postgres_down_s: float = 5  # between PostgreSQL's fast stop and its start
    inject_at: float = 0.3  # share of the campaign sent when the fault strikes
    finish_timeout_s: float = 900  # from Send to "sent" before the campaign counts as stuck
    rate: float = 50  # SEND_RATE_PER_SECOND (the README's default)
    batch_size: int = 500  # SEND_BATCH_SIZE (the README's default): 5,000 recipients make 10 batches


BENCH = Timing()
# 400 recipients in batches of 50: as many batches per worker thread as the benchmark's 5,000 in 500.
CI = Timing(outage_s=5, workers_down_s=3, postgres_down_s=5, finish_timeout_s=150, rate=50, batch_size=50)
# A documented setting shortened so a run is minutes, not hours: retries 5 s apart (doubling) instead of 60 s.
SETTINGS = {"SEND_RETRY_BACKOFF_SECONDS": "5"}


def pipeline_depth(env: dict) -> int:
    """Messages one sending thread hands to the relay at once (SEND_PIPELINE_DEPTH; 2 before that setting)."""
    from config import Config

    return int(env.get("SEND_PIPELINE_DEPTH") or getattr(Config, "SEND_PIPELINE_DEPTH", 2))


@dataclass
class Context:
    """What a fault acts on."""

    deployment: Deployment
    relay: RecordingRelay
    timing: Timing
    admin: AdminClient


@dataclass(frozen=True)
class Fault:
    """One row of the table: a name, the issue's wording, and what to do once the send is under way."""

    name: str
    label: str
    inject: Callable[[Context], None] | None = None
    killed_workers: int = 0
    refused_percent: float = 0


def _kill_one(ctx: Context) -> None:
    victim = ctx.deployment.busiest_worker(ctx.relay.port)
    ctx.deployment.kill_worker(victim)
    ctx.deployment.restart_worker(victim)


def _kill_all(ctx: Context) -> None:
    for index in range(len(ctx.deployment.workers)):
        ctx.deployment.kill_worker(index)
    time.sleep(ctx.timing.workers_down_s)  # the outage itself
    for index in range(len(ctx.deployment.workers)):
        ctx.deployment.restart_worker(index)


def _restart_postgres(ctx: Context) -> None:
    ctx.deployment.stop_postgres()
    time.sleep(ctx.timing.postgres_down_s)  # the outage itself
    ctx.deployment.start_postgres()


def _relay_down(ctx: Context) -> None:
    ctx.relay.go_down()
    time.sleep(ctx.timing.outage_s)  # the outage itself
    ctx.relay.come_back()


def _relay_451(ctx: Context) -> None:
    ctx.relay.tempfail(True)
    time.sleep(ctx.timing.outage_s)  # the outage itself
    ctx.relay.tempfail(False)


FAULTS = [
    Fault("none", "no fault (baseline)"),
    Fault("kill-one", "SIGKILL of one worker process", _kill_one, killed_workers=1),
    Fault(
        "kill-all",
        "SIGKILL of all workers, restart after {workers_down_s:.0f} s",
        _kill_all,
        killed_workers=2,
    ),
    Fault("redis", "Redis restarted", lambda ctx: ctx.deployment.restart_redis()),
    Fault(
        "postgres", "PostgreSQL restarted (fast stop, start after {postgres_down_s:.0f} s)", _restart_postgres
    ),
    Fault("relay-down", "relay refuses connections for {outage_s:.0f} s", _relay_down),
    Fault("relay-451", "relay answers 451 4.3.0 for {outage_s:.0f} s", _relay_451),
    # Last: the refused addresses become hard bounces and are suppressed, which would shrink later sends.
    Fault("relay-550", "550 5.1.1 for 2 % of recipients", refused_percent=2),
]


# --- setting up ---------------------------------------------------------------------------------------------


def seed(deployment: Deployment, admin: AdminClient, n: int) -> tuple[int, set[str]]:
    """A list with N contacts imported as confirmed with proof
    of consent (the CLI import); its id and addresses."""
    response = admin.post_form(
        "/admin/lists/new",
        "/admin/lists/new",
        {"name": "Fault news", "description": "", "visibility": "public"},
    )
    if response.status_code != 302:
        raise DeploymentError(f"creating the list answered {response.status_code}")
    addresses = [f"reader{i}@faults.example" for i in range(n)]
    path = os.path.join(deployment.tmp, "contacts.csv")
    with open(path, "w") as handle:
        handle.write("email,name\n" + "".join(f"{a},Reader {i}\n" for i, a in enumerate(addresses)))
    output = deployment.flask(
        "import-contacts",
        path,
        "--list",
        "Fault news",
        "--mode",
        "has-consent",
        "--statement",
        "Signed up at our shop's checkout (fault bench)",
        timeout=1800,
    )
    if f"{n} added" not in output:
        raise DeploymentError(f"import did not add {n} contacts: {output}")
    with deployment.database() as conn:
        list_id = conn.execute("SELECT id FROM mailing_lists WHERE name = 'Fault news'").fetchone()[0]
    return list_id, set(addresses)


def create_and_send(deployment: Deployment, admin: AdminClient, list_id: int, name: str) -> tuple[str, int]:
    """Write a campaign in the admin's editor and press Send; returns its public id and database id."""
    page = admin.get("/admin/campaigns/new").text
    layout = re.search(r'<option[^>]*value="(\d+)"[^>]*>(?![^<]*missing footer)', page)
    fields = {
        "name": name,
        "subject": f"News ({name})",
        "preheader": "What is new",
        "from_name": "News",
        "from_email": "news@example.com",
        "reply_to": "",
        "lists": str(list_id),
        "layout_id": layout.group(1),
        "body_format": "markdown",
        "timezone": "UTC",
        "send_at": "",
        "body": "# Hello {{ contact.name | default('there') }}\n\nOur news of the month, in short.",
        "text_body": "",
    }
    response = admin.post_form("/admin/campaigns/new", "/admin/campaigns/new", fields)
    if response.status_code != 302:
        raise DeploymentError(f"saving the campaign answered {response.status_code}: {response.text[:500]}")
    public_id = response.headers["Location"].rstrip("/").split("/")[-1]
    response = admin.post_form(f"/admin/campaigns/{public_id}/send", f"/admin/campaigns/{public_id}/send", {})
    if response.status_code != 302:
        raise DeploymentError(f"Send answered {response.status_code}: {response.text[:500]}")
    with deployment.database() as conn:
        campaign_id = conn.execute("SELECT id FROM campaigns WHERE public_id = %s", (public_id,)).fetchone()[
            0
        ]
    return public_id, campaign_id


# --- watching -----------------------------------------------------------------------------------------------


def without_times(text: str) -> str:
    """A reason with its clock times blanked, so equal reasons group together."""
    return re.sub(r"\b\d\d:\d\d(:\d\d)?\b", "HH:MM", text)


def campaign_state(deployment: Deployment, campaign_id: int) -> dict | None:
    """The campaign's row (status, status_reason, waiting_reason …) plus its deliveries sent; None while the
    database does not answer."""
    try:
        with deployment.database() as conn:
            state = conn.execute(
                "SELECT to_jsonb(c) FROM campaigns c WHERE id = %s", (campaign_id,)
            ).fetchone()[0]
            state["sent"] = conn.execute(
                "SELECT count(*) FROM deliveries WHERE campaign_id = %s AND status = 'sent'", (campaign_id,)
            ).fetchone()[0]
            return state
    except Exception:  # the database is down on purpose during one fault
        return None


class Watcher(threading.Thread):
    """Notes what the campaign showed while it ran: each waiting reason (e.g. the relay is down)."""

    def __init__(self, deployment: Deployment, campaign_id: int, row: Row):
        super().__init__(daemon=True)
        self.deployment, self.campaign_id, self.row = deployment, campaign_id, row
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            waiting = (campaign_state(self.deployment, self.campaign_id) or {}).get("waiting_reason") or ""
            shown = without_times(waiting)[:160]
            if shown and shown not in self.row.waiting:
                self.row.waiting.append(shown)


def wait_to_finish(ctx: Context, public_id: str, campaign_id: int, started: float, row: Row) -> None:
    """Poll until the campaign is sent; resume it if it paused itself; cancel it at the deadline."""
    deadline = started + ctx.timing.finish_timeout_s
    while time.monotonic() < deadline:
        state = campaign_state(ctx.deployment, campaign_id)
        if state and state["status"] in FINAL:
            row.seconds = time.monotonic() - started
            return
        if state and state["status"] == "paused":
            row.help.append(f"paused itself after {time.monotonic() - started:.0f} s, resumed by hand")
            row.pauses.append(state["status_reason"] or "")
            ctx.admin.post_form(f"/admin/campaigns/{public_id}", f"/admin/campaigns/{public_id}/resume", {})
        time.sleep(0.5)  # polling interval of a condition check
    row.seconds = time.monotonic() - started
    row.help.append(f"still unfinished after {ctx.timing.finish_timeout_s:.0f} s; cancelled by hand")
    ctx.admin.post_form(f"/admin/campaigns/{public_id}", f"/admin/campaigns/{public_id}/cancel", {})


def account(ctx: Context, campaign_id: int, expected: set[str], fault: Fault, row: Row) -> None:
    """Compare what the relay accepted with what the product recorded."""
    last = [len(ctx.relay.snapshot()[0]), time.monotonic()]

    def quiet() -> bool:  # late messages (a stray batch) would still count
        count = len(ctx.relay.snapshot()[0])
        if count != last[0]:
            last[:] = [count, time.monotonic()]
        return time.monotonic() - last[1] >= 2

    wait_for(quiet, 30, "the relay to go quiet", interval=0.2)
    accepted, refused = ctx.relay.snapshot()
    with ctx.deployment.database() as conn:
        rows = conn.execute(
            "SELECT d.id, d.status, d.reason, lower(c.email) FROM deliveries d JOIN contacts c "
            "ON c.id = d.contact_id WHERE d.campaign_id = %s",
            (campaign_id,),
        ).fetchall()
        row.status, row.status_reason = conn.execute(
            "SELECT status, status_reason FROM campaigns WHERE id = %s", (campaign_id,)
        ).fetchone()
    ids = {r[0] for r in rows}
    status_of = {r[3]: r[1] for r in rows}
    counts = Counter(
        a.rcpt for a in accepted if (m := VERP_ID.search(a.mail_from)) and int(m.group(1), 16) in ids
    )
    delivered = set(counts) & expected
    uncertain = {email for email, status in status_of.items() if status == "uncertain"}
    row.expected, row.delivered = len(expected), len(delivered)
    row.duplicates = sum(c - 1 for c in counts.values())
    row.unexplained_duplicates = sum(c - 1 for rcpt, c in counts.items() if rcpt not in uncertain)
    refused_here = (refused & expected) - delivered
    row.refused = len(refused_here)
    missing = expected - delivered - refused_here
    row.missing, row.missing_uncertain = len(missing), len(missing & uncertain)
    row.uncertain = len(uncertain)
    row.uncertain_bound = fault.killed_workers * WORKER_THREADS * pipeline_depth(ctx.deployment.env)
    row.accepted_not_sent = sum(1 for rcpt in delivered if status_of.get(rcpt) != "sent")
    row.refused_not_bounced = sum(
        1 for rcpt in refused_here if status_of.get(rcpt) not in ("bounced", "failed")
    )
    row.states = dict(Counter(r[1] for r in rows))
    reasons = Counter((r[1], without_times(r[2] or "")[:110]) for r in rows if r[1] != "sent")
    row.reasons = {f"{status}: {text}": count for (status, text), count in reasons.most_common(4)}


def run_fault(ctx: Context, list_id: int, expected: set[str], fault: Fault) -> Row:
    """One fresh campaign sent from the admin, the fault
    injected a third of the way through, then accounted."""
    row = Row(fault.name, fault.label.format(**vars(ctx.timing)))
    ctx.relay.reset()
    ctx.relay.refuse_share(fault.refused_percent)
    watcher = None
    try:
        started = time.monotonic()
        public_id, campaign_id = create_and_send(ctx.deployment, ctx.admin, list_id, f"Faults {fault.name}")
        watcher = Watcher(ctx.deployment, campaign_id, row)
        watcher.start()
        if fault.inject is not None:
            threshold = int(len(expected) * ctx.timing.inject_at)
            wait_for(
                lambda: (
                    (s := campaign_state(ctx.deployment, campaign_id))
                    and (s["sent"] >= threshold or s["status"] != "sending")
                ),
                ctx.timing.finish_timeout_s,
                f"{threshold} messages sent",
                interval=0.1,
            )
            fault.inject(ctx)
        wait_to_finish(ctx, public_id, campaign_id, started, row)
        watcher.done.set()
        account(ctx, campaign_id, expected, fault, row)
    except DeploymentError as exc:
        row.error = str(exc)[:300]
    finally:
        if watcher is not None:
            watcher.done.set()
        ctx.relay.reset()
    return row


def run_suite(n: int, timing: Timing, only: list[str] | None = None, out=print) -> list[Row]:
    """Deploy, seed N contacts, run every fault (or those named) one after the other; the rows."""
    relay = RecordingRelay(free_port())
    relay.start()
    settings = dict(SETTINGS, SEND_RATE_PER_SECOND=str(timing.rate), SEND_BATCH_SIZE=str(timing.batch_size))
    rows = []
    try:
        with Deployment(relay.url, settings, worker_threads=WORKER_THREADS) as deployment:
            out(
                f"deployed in {deployment.tmp}: web {deployment.base_url}, PostgreSQL "
                f":{deployment.postgres.port}, "
                f"Redis :{deployment.redis.port}, relay :{relay.port}; settings {settings}"
            )
            ctx = Context(deployment, relay, timing, deployment.admin())
            started = time.monotonic()
            list_id, expected = seed(deployment, ctx.admin, n)
            out(f"imported {n} confirmed contacts in {time.monotonic() - started:.0f} s")
            for fault in FAULTS:
                if only and fault.name not in only:
                    continue
                row = run_fault(ctx, list_id, expected, fault)
                out(describe(row))
                rows.append(row)
    finally:
        relay.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="confirmed contacts, each campaign's recipients")
    parser.add_argument(
        "--only", default="", help=f"comma-separated faults: {', '.join(f.name for f in FAULTS)}"
    )
    parser.add_argument("--rate", type=float, default=BENCH.rate, help="SEND_RATE_PER_SECOND")
    args = parser.parse_args()
    timing = Timing(rate=args.rate)
    rows = run_suite(
        args.n,
        timing,
        [name for name in args.only.split(",") if name] or None,
        out=lambda text: print(text, flush=True),
    )
    print(table(rows))
    print(f"faults: N={args.n} rows={len(rows)} meeting the goal={sum(1 for r in rows if not r.problems())}")


if __name__ == "__main__":
    main()
