"""Benchmark of a large audience on PostgreSQL: the CSV import, the admin pages at that size, a segment
count and `consent verify`.

Builds, in a fresh PostgreSQL database (created and dropped by the run):
  - list A with --contacts contacts, imported through the product's own path (file stored, mapped, run by
    the worker's function) on the consent-basis mode, with a custom field;
  - list B with 30 % of them, imported on the double opt-in mode, 80 % of those then confirmed;
  - realistic ledger events besides: open/click tracking consent for 40 % of list A, 3 % withdrawals;
  - one sent campaign to list A (a delivery per subscriber, opens by 25 % and clicks by 5 % of those who
    consented to tracking) and a draft to list A for the send confirmation and its compliance preview.
Then times the send confirmation cold (above COMPLIANCE_INLINE_CONTACTS it starts a background count of the
compliance preview, which the bench then runs and times), then every admin page (median of --repeat requests
through the app, logged in as the owner; the send confirmation shows the stored count by then), the
exact-address search, `consent verify` (full and incremental) and reports disk bytes per contact and the
largest tables and indexes.

    .venv/bin/python bench/audience.py [--contacts 1000000] [--server postgresql://postgres@127.0.0.1:5432/test]

Last line: `audience: contacts=<n> import_rate=<contacts/s> slowest_page_ms=<ms> page=<name>
exact_search_ms=<ms> segment_count_ms=<ms> verify_s=<s>` (import_rate: the slower of the two modes).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import audience_seed  # noqa: E402  (beside this file)
from flask_migrate import upgrade  # noqa: E402  (after the path above)
from sqlalchemy import func, select, text  # noqa: E402

from mailer import create_app, demo  # noqa: E402
from mailer.campaigns import audience_count  # noqa: E402
from mailer.campaigns.models import Campaign, Layout  # noqa: E402
from mailer.consent import ledger, verify  # noqa: E402
from mailer.consent.models import ConsentEvent, Purpose  # noqa: E402
from mailer.contacts import fields  # noqa: E402
from mailer.core.clock import utcnow  # noqa: E402
from mailer.core.extensions import db  # noqa: E402
from mailer.segments.conditions import count as segment_count  # noqa: E402
from mailer.staff.accounts import create_staff  # noqa: E402
from mailer.subscriptions import imports  # noqa: E402
from mailer.subscriptions.lists import create_list, ensure_tracking_purposes  # noqa: E402
from mailer.subscriptions.models.lists import MailingList  # noqa: E402
from tests.support.db import create_postgres_database, drop_postgres_database  # noqa: E402
from tests.support.http import login  # noqa: E402

BATCH = 5000


def _write_csv(path: str, numbers, with_city: bool, prefix: str = "person") -> None:
    cities = ("Oslo", "Rome", "Lima", "Bonn", "Kyiv", "Riga")
    with open(path, "w", encoding="utf-8") as out:
        out.write("email,first name,last name,city\n" if with_city else "email,name\n")
        for n in numbers:
            if with_city:
                out.write(f"{prefix}{n}@example.com,Person,No{n},{cities[n % 6]}\n")
            else:
                out.write(f"{prefix}{n}@example.com,Person {n}\n")


def _database_url(server: str, name: str) -> str:
    parts = urlsplit(server.replace("postgresql+psycopg://", "postgresql://"))
    return urlunsplit(parts._replace(scheme="postgresql+psycopg", path="/" + name))


def _bench_database_exists(server: str, name: str) -> bool:
    """A database left by an earlier --reuse run that finished seeding (bench_audience is written last)."""
    conninfo = urlunsplit(urlsplit(server.replace("postgresql+psycopg://", "postgresql://")))
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            return False
    with psycopg.connect(urlunsplit(urlsplit(conninfo)._replace(path="/" + name))) as conn:
        return conn.execute("SELECT to_regclass('bench_audience') IS NOT NULL").fetchone()[0]


def _other_events(n: int, list_a, list_b, say) -> None:
    """Realistic events besides the imports, appended through the ledger in batches."""
    started = time.perf_counter()
    ctx = ledger.RequestContext("bench", ip="203.0.113.7", user_agent="Mozilla/5.0 Bench")
    tracking = db.session.execute(
        select(Purpose).where(Purpose.key.in_(("tracking:open", "tracking:click"))).order_by(Purpose.key)
    ).scalars()
    tracking = list(tracking)
    ids = {
        email: contact_id
        for contact_id, email in db.session.execute(text("SELECT id, email FROM contacts")).all()
    }
    drafts = []
    for k in range(n):
        contact_id = ids[f"person{k}@example.com"]
        if k % 10 < 3 and k % 5 != 4:  # 80 % of list B confirm
            drafts.append(ledger.EventDraft(contact_id, None, list_b.purpose.id, "confirmed", ctx))
        if k % 5 < 2:  # 40 % consent to tracking
            drafts.extend(ledger.EventDraft(contact_id, None, p.id, "granted", ctx) for p in tracking)
        if k % 100 < 3:  # 3 % withdraw from list A
            drafts.append(ledger.EventDraft(contact_id, None, list_a.purpose.id, "withdrawn", ctx))
        if len(drafts) >= BATCH:
            ledger.append_events(db.session.connection(), drafts)
            db.session.commit()
            drafts = []
    ledger.append_events(db.session.connection(), drafts)
    db.session.execute(
        text(
            "UPDATE subscriptions s SET status = 'confirmed', confirmed_at = now() "
            "FROM consent_states c "
            "WHERE c.contact_id = s.contact_id AND c.purpose_id = :p AND c.status = 'granted' "
            "AND s.list_id = :l"
        ),
        {"p": list_b.purpose.id, "l": list_b.id},
    )
    db.session.execute(
        text(
            "UPDATE subscriptions s SET status = 'unsubscribed', unsubscribed_at = now() "
            "FROM consent_states c WHERE c.contact_id = s.contact_id AND c.purpose_id = :p "
            "AND c.status = 'withdrawn' AND s.list_id = :l"
        ),
        {"p": list_a.purpose.id, "l": list_a.id},
    )
    db.session.commit()
    events = db.session.execute(select(func.count()).select_from(ConsentEvent)).scalar_one()
    say(f"seed   other consent events: {time.perf_counter() - started:.1f}s, ledger now {events:,} events")


def _campaigns(list_a, say) -> None:
    """One sent campaign to list A with deliveries and tracking, and a draft for the send confirmation."""
    started = time.perf_counter()
    layout = db.session.execute(select(Layout)).scalars().first()
    sent = Campaign(
        name="Spring news",
        subject="Spring",
        body="Hello",
        layout=layout,
        status="sent",
        track_opens=True,
        track_clicks=True,
        started_at=utcnow(),
    )
    sent.lists = [list_a]
    draft = Campaign(name="Summer news", subject="Summer", body="Hello", layout=layout)
    draft.lists = [list_a]
    db.session.add_all([sent, draft])
    db.session.commit()
    db.session.execute(
        text(
            "INSERT INTO deliveries (campaign_id, contact_id, list_id, batch, status, reason, message_id, "
            "attempts, queued_at, finished_at) "
            "SELECT :c, contact_id, list_id, 0, 'sent', '', '', 1, now(), now() "
            "FROM subscriptions WHERE list_id = :l AND status = 'confirmed' ORDER BY contact_id"
        ),
        {"c": sent.id, "l": list_a.id},
    )
    for kind, share, key in (("open", 0.25, "tracking:open"), ("click", 0.05, "tracking:click")):
        db.session.execute(
            text(
                "INSERT INTO tracking_events (campaign_id, contact_id, kind, created_at, machine, "
                "machine_reason, user_agent_class) "
                "SELECT :c, s.contact_id, :k, now(), false, '', 'browser' "
                "FROM consent_states s JOIN purposes p ON p.id = s.purpose_id "
                "WHERE p.key = :p AND s.status = 'granted' AND s.contact_id % 1000 < :s"
            ),
            {"c": sent.id, "k": kind, "p": key, "s": int(share * 1000)},
        )
    db.session.commit()
    _consent_sent_with(sent.id)
    say(f"seed   sent campaign, deliveries and tracking: {time.perf_counter() - started:.1f}s")


def _consent_sent_with(campaign_id: int) -> int:
    """What the worker writes on each delivery as it hands the message over: the recipient's tracking consent
    (Delivery.tracking). Also fills it in on a database seeded before deliveries kept it (--reuse)."""
    done = db.session.execute(
        text(
            "UPDATE deliveries d SET tracking = "
            "(CASE WHEN EXISTS (SELECT 1 FROM consent_states s JOIN purposes p ON p.id = s.purpose_id "
            "WHERE s.contact_id = d.contact_id AND p.key = 'tracking:open' AND s.status = 'granted') "
            "THEN 1 ELSE 0 END) | "
            "(CASE WHEN EXISTS (SELECT 1 FROM consent_states s JOIN purposes p ON p.id = s.purpose_id "
            "WHERE s.contact_id = d.contact_id AND p.key = 'tracking:click' AND s.status = 'granted') "
            "THEN 2 ELSE 0 END) "
            "WHERE d.campaign_id = :c AND d.tracking IS NULL"
        ),
        {"c": campaign_id},
    ).rowcount
    db.session.commit()
    return done


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument(
        "--server", default=os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the seeded database (audience_bench_<contacts>) and use it again on the next run",
    )
    parser.add_argument(
        "--seed",
        choices=("sql", "import"),
        default="sql",
        help="sql: contacts and events written with COPY and set-based SQL (minutes at 1M), the import timed "
        "apart on --import-rows; import: the whole audience through the product's import path",
    )
    parser.add_argument(
        "--import-rows",
        type=int,
        default=20_000,
        help="rows imported through the product's path in each mode with --seed sql (0: no import)",
    )
    parser.add_argument(
        "--name",
        default="",
        help="with --reuse: the database's name (default audience_bench_<contacts>), e.g. a copy made with "
        "createdb -T audience_bench_<contacts> <name>",
    )
    args = parser.parse_args()

    reuse_name = args.name or f"audience_bench_{args.contacts}"
    name = reuse_name if args.reuse else f"audience_bench_{os.getpid()}"
    reused = args.reuse and _bench_database_exists(args.server, name)
    url = _database_url(args.server, name) if reused else create_postgres_database(args.server, name)
    workdir = tempfile.mkdtemp(prefix="audience-")
    app = create_app(
        {
            "MAILER_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": url,
            "IMPORT_DIR": os.path.join(workdir, "imports"),
        }
    )
    report: list[str] = []

    def say(line: str) -> None:
        print(line, flush=True)
        report.append(line)

    def run_import(mailing_list, numbers, mode, with_city, owner_id, prefix="person"):
        path = os.path.join(workdir, f"{mailing_list.id}.csv")
        _write_csv(path, numbers, with_city, prefix)
        size = os.path.getsize(path)
        started, cpu = time.perf_counter(), time.process_time()
        with open(path, "rb") as handle:
            job = imports.create_import(
                imports.ImportRequest(
                    "people.csv",
                    handle,
                    mailing_list,
                    mode,
                    "Signed up at our shops 2019-2025; paper forms archived in the Berlin office.",
                ),
                owner_id,
            )
        mapping = [target or "ignore" for target in job.layout["mapping"]]
        imports.confirm_mapping(job, mapping, queue=False)
        db.session.commit()
        imports.run_import(job.id)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        db.session.refresh(job)
        assert job.status == "done", job.error
        rate = len(numbers) / seconds
        say(
            f"import {mode:14s} rows={len(numbers):>9,} file={size / 1e6:.1f}MB time={seconds:.1f}s "
            f"rate={rate:,.0f}/s python_cpu={cpu:.1f}s ({len(numbers) / cpu:,.0f} rows/cpu-s)"
        )
        say(f"       added={job.added:,} invited={job.invited:,} skipped={job.skipped}")
        return rate

    try:
        with app.app_context():
            upgrade()
            n = args.contacts
            if reused:
                say(f"seed   reusing database {name} (--reuse)")
                # an owner of this run: the earlier run's owner has a second factor only that run could pass
                owner_email = f"owner-{os.getpid()}@example.com"
                owner = create_staff(owner_email, "correct horse battery", "owner")
                db.session.commit()
            else:
                form = demo.seed_demo()
                ensure_tracking_purposes()
                list_a = form.lists[0]
                list_b = create_list("Second list")
                city = fields.define_field("city", "City", "ordinary")
                owner_email = "owner@example.com"
                owner = create_staff(owner_email, "correct horse battery", "owner")
                db.session.commit()
                if args.seed == "sql":
                    audience_seed.seed(n, list_a, list_b, city.id, say)
                else:
                    overlap = [k for k in range(n) if k % 10 < 3]  # 30 % of list A, spread over it
                    rate_a = run_import(list_a, range(n), "has_consent", True, owner.id)
                    rate_b = run_import(list_b, overlap, "double_opt_in", False, owner.id)
                    _other_events(n, list_a, list_b, say)
                _campaigns(list_a, say)
                db.session.execute(
                    text("CREATE TABLE bench_audience (contacts integer, seed text, at timestamp)")
                )
                db.session.execute(
                    text("INSERT INTO bench_audience (contacts, seed) VALUES (:n, :s)"),
                    {"n": n, "s": args.seed},
                )
                db.session.commit()
            list_a, list_b = db.session.execute(
                select(MailingList).order_by(MailingList.id).limit(2)
            ).scalars()
            sent = db.session.execute(select(Campaign).where(Campaign.name == "Spring news")).scalar_one()
            draft = db.session.execute(select(Campaign).where(Campaign.name == "Summer news")).scalar_one()
            if reused and (filled := _consent_sent_with(sent.id)):
                say(f"seed   tracking consent written on {filled:,} deliveries seeded before it was kept")
            if args.seed == "sql" or reused:
                rate_a = rate_b = 0.0
                if args.import_rows:  # the import through the product's own path, into lists of its own
                    tag = f"{os.getpid()}x"
                    rows = range(args.import_rows)
                    probe_a, probe_b = (
                        create_list(f"Import probe {tag} A"),
                        create_list(f"Import probe {tag} B"),
                    )
                    db.session.commit()
                    rate_a = run_import(probe_a, rows, "has_consent", True, owner.id, f"probe{tag}-")
                    rate_b = run_import(probe_b, rows, "double_opt_in", False, owner.id, f"probe{tag}-")
            db.session.commit()
            # What autovacuum does to tables this size after a bulk load (on by default, and in production;
            # this machine runs PostgreSQL with it off): statistics, and the visibility map that lets a count
            # read an index alone (an index-only scan fetched a million heap rows without it).
            started = time.perf_counter()
            autovacuum = db.session.execute(text("SHOW autovacuum")).scalar()
            db.session.commit()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM (ANALYZE)")
            say(
                f"seed   VACUUM (ANALYZE) in {time.perf_counter() - started:.1f}s "
                f"(autovacuum here: {autovacuum})"
            )
            sent_id, draft_id = sent.public_id, draft.public_id
            a_id, b_id, a_db = list_a.public_id, list_b.public_id, list_a.id
            db.session.remove()

        client = app.test_client()
        login(client, owner_email, "correct horse battery")
        some = n // 2
        pages = {
            "dashboard": "/admin/",
            "contacts": "/admin/contacts",
            "contacts_page_50": "/admin/contacts?page=50",
            "contacts_list_filter": f"/admin/contacts?list={a_db}",
            "contacts_status_filter": "/admin/contacts?status=active",
            "contacts_name_search": f"/admin/contacts?q=No{some}",
            "contacts_partial_address": f"/admin/contacts?q=person{some}@",
            "lists": "/admin/lists",
            "list": f"/admin/lists/{a_id}",
            "list_b": f"/admin/lists/{b_id}",
            "list_stats": f"/admin/lists/{a_id}/stats",
            "stats_overview": "/admin/stats",
            "campaign_stats": f"/admin/campaigns/{sent_id}/stats",
            "campaign": f"/admin/campaigns/{sent_id}",
            "send_confirmation": f"/admin/campaigns/{draft_id}/send",
            "imports": "/admin/imports",
        }
        timings = {}
        with app.app_context():  # the send confirmation's count: started by the page, run by the worker
            db.session.execute(
                text("UPDATE campaigns SET compliance = '{}' WHERE public_id = :p"), {"p": draft_id}
            )
            db.session.commit()
            started = time.perf_counter()
            status = client.get(pages["send_confirmation"]).status_code
            cold_ms = (time.perf_counter() - started) * 1000
            draft = db.session.execute(select(Campaign).where(Campaign.public_id == draft_id)).scalar_one()
            counting = (draft.compliance or {}).get("counting")
            started = time.perf_counter()
            if counting:
                audience_count.run_count(draft.id, counting["token"])
            count_s = time.perf_counter() - started
            db.session.remove()
            say(
                f"page   send_confirmation cold {cold_ms:8.1f} ms  (HTTP {status}, "
                f"{'starts the background count' if counting else 'counted in the request'}); "
                f"background count {count_s:.1f}s"
            )
        with app.app_context():  # the campaign's stats seen for the first time (nothing counted and kept yet)
            db.session.execute(
                text(
                    "DELETE FROM campaign_consent_snapshots WHERE campaign_id = "
                    "(SELECT id FROM campaigns WHERE public_id = :p)"
                ),
                {"p": sent_id},
            )
            db.session.commit()
            started = time.perf_counter()
            status = client.get(pages["campaign_stats"]).status_code
            timings["campaign_stats_first"] = (time.perf_counter() - started) * 1000
            db.session.remove()
            first = timings["campaign_stats_first"]
            say(f"page   {'campaign_stats_first':24s} {first:8.1f} ms  (HTTP {status}, once)")
        for label, path in [*pages.items(), ("exact_search", f"/admin/contacts?q=person{some}@example.com")]:
            samples = []
            status = 0
            for _ in range(args.repeat):
                started = time.perf_counter()
                response = client.get(path)
                samples.append((time.perf_counter() - started) * 1000)
                status = response.status_code
            timings[label] = statistics.median(samples)
            say(f"page   {label:24s} {timings[label]:8.1f} ms  (HTTP {status}, median of {args.repeat})")
        exact_ms = timings.pop("exact_search")
        slowest = max(timings, key=lambda key: timings[key])

        with app.app_context():
            tree = {
                "match": "all",
                "rules": [
                    {"field": "list", "op": "confirmed", "value": a_id},
                    {
                        "match": "any",
                        "rules": [
                            {"field": "field:city", "op": "is", "value": "Oslo"},
                            {"field": "opened", "op": "campaign", "value": sent_id},
                        ],
                    },
                ],
            }
            samples = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                counted = segment_count(tree)
                samples.append((time.perf_counter() - started) * 1000)
            segment_ms = statistics.median(samples)
            say(
                "segment count (list A confirmed AND (city Oslo OR opened the campaign)): "
                f"{counted.matching:,} "
                f"matching, unseen {counted.unseen}, {segment_ms:.0f} ms (median of {args.repeat})"
            )
            db.session.rollback()
            started, cpu = time.perf_counter(), time.process_time()
            result = verify.verify_chain(checkpoint=True)
            verify_s, cpu = time.perf_counter() - started, time.process_time() - cpu
            say(
                f"verify full: ok={result.ok} events={result.checked:,} in {verify_s:.1f}s "
                f"(python cpu {cpu:.1f}s)"
            )
            contact_id = db.session.execute(text("SELECT min(id) FROM contacts")).scalar_one()
            ctx = ledger.RequestContext("bench")
            drafts = [ledger.EventDraft(contact_id, None, None, "restricted", ctx)] * 1000
            ledger.append_events(db.session.connection(), drafts)
            db.session.commit()
            started = time.perf_counter()
            again = verify.verify_since_checkpoint()
            seconds = time.perf_counter() - started
            say(
                f"verify incremental after 1,000 new events: ok={again.ok} "
                f"events={again.checked:,} in {seconds:.2f}s"
            )
            total = db.session.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            say(f"disk   database {total / 1e6:,.0f} MB, {total / n:,.0f} bytes per contact")
            largest = db.session.execute(
                text(
                    "SELECT c.relname, c.relkind, pg_total_relation_size(c.oid) FROM pg_class c "
                    "JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = 'public' "
                    "AND c.relkind IN ('r', 'i') ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 12"
                )
            ).all()
            for relname, kind, size in largest:
                say(f"disk   {'table' if kind == 'r' else 'index'} {relname:44s} {size / 1e6:9,.1f} MB")
            db.session.remove()
            db.engine.dispose()
        say(
            f"audience: contacts={n} import_rate={min(rate_a, rate_b):.0f} "
            f"slowest_page_ms={timings[slowest]:.0f} "
            f"page={slowest} exact_search_ms={exact_ms:.0f} segment_count_ms={segment_ms:.0f} "
            f"verify_s={verify_s:.1f}"
        )
    finally:
        app.extensions["mailer.workers"].broker.close()
        if not (args.keep or args.reuse):
            drop_postgres_database(args.server, name)


if __name__ == "__main__":
    main()
