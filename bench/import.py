"""Benchmark of the CSV import on PostgreSQL: this tree's import against an earlier version's, same run.

In a fresh PostgreSQL database (created and dropped by the run), with a custom field "city", each import
writes a file of --rows new addresses (email, first name, last name, city; a fresh address prefix each time,
so every import adds the same number of new contacts to a list of its own) and imports it through the
product's own path (create_import, confirm_mapping, run_import: what the worker runs), on the consent-basis
mode then on the double opt-in mode. "baseline" is the import's path (mailer/consent/ledger.py,
mailer/subscriptions/import_batch.py and imports.py) as it is at --baseline (a git revision, loaded beside
this tree's), "current" is this tree's; they alternate A B B A so a shared machine's load weighs on both
alike. The ledger is verified at the end.

Besides the rate (wall clock, which a loaded machine stretches), each import reports the CPU time it cost per
contact: this process's (the application's Python) and the bench database's server processes' (read from
/proc; PostgreSQL must run on this machine, else only the application's is shown). Their sum is what a
contact costs whatever else runs; 1e6 / (app + db µs) is the rate one otherwise idle core would give.

    .venv/bin/python bench/import.py [--rows 50000] [--rounds 1] [--baseline main]

Last lines: `import: rows=<n> baseline=<contacts/s> current=<contacts/s> speedup=<x>` (means of the rates) and
`cpu per contact: baseline=<µs> current=<µs>` (means of app + db CPU).
"""

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from flask_migrate import upgrade
from sqlalchemy import func, select

from mailer import create_app, demo
from mailer.consent.models import ConsentEvent
from mailer.consent.verify import verify_chain
from mailer.contacts import fields
from mailer.core.extensions import db
from mailer.staff.accounts import create_staff
from mailer.subscriptions import imports
from mailer.subscriptions.lists import create_list
from tests.support.db import create_postgres_database, drop_postgres_database

CITIES = ("Oslo", "Rome", "Lima", "Bonn", "Kyiv", "Riga")
STATEMENT = "Signed up at our shops 2019-2025; paper forms archived in the Berlin office."


def _write_csv(path: str, rows: int, prefix: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write("email,first name,last name,city\n")
        for n in range(rows):
            out.write(f"{prefix}{n}@example.com,Person,No{n},{CITIES[n % 6]}\n")


def _server_cpu(database: str) -> float | None:
    """CPU seconds used so far by the server processes of `database` (None when they cannot be read)."""
    total, seen = 0.0, False
    tick = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if f" {database} ".encode() not in handle.read():
                    continue
            with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total, seen = total + (int(fields[11]) + int(fields[12])) / tick, True
    return total if seen else None


# The import's path, loaded at the baseline's revision beside this tree's, each module importing the others'
# baseline copies (the rest of the application is this tree's).
BASELINE_MODULES = (
    ("mailer.consent.ledger", "mailer/consent/ledger.py"),
    ("mailer.subscriptions.import_batch", "mailer/subscriptions/import_batch.py"),
    ("mailer.subscriptions.imports", "mailer/subscriptions/imports.py"),
)


def _baseline(revision: str, workdir: str):
    """The import's modules (the ledger, the batch, the import) at `revision`, loaded as modules beside this
    tree's; returns the baseline's imports module."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    module = None
    for name, file in BASELINE_MODULES:
        source = subprocess.run(
            ["git", "show", f"{revision}:{file}"], cwd=root, check=True, capture_output=True, text=True
        ).stdout
        for earlier, _ in BASELINE_MODULES:
            source = source.replace(f"from {earlier} import", f"from {earlier}_baseline import")
        path = os.path.join(workdir, os.path.basename(file).replace(".py", "_baseline.py"))
        with open(path, "w", encoding="utf-8") as out:
            out.write(source)
        spec = importlib.util.spec_from_file_location(f"{name}_baseline", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[f"{name}_baseline"] = module
        spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--baseline", default="main", help="git revision of the baseline's import path")
    parser.add_argument(
        "--server", default=os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    args = parser.parse_args()
    paths = ["baseline", "current"]
    name = f"import_bench_{os.getpid()}"
    url = create_postgres_database(args.server, name)
    workdir = tempfile.mkdtemp(prefix="import-bench-")
    app = create_app(
        {
            "MAILER_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": url,
            "IMPORT_DIR": os.path.join(workdir, "imports"),
        }
    )
    rates: dict[str, list[float]] = {path: [] for path in paths}
    costs: dict[str, list[float]] = {path: [] for path in paths}  # µs of CPU per contact, app + db
    modules = {"baseline": _baseline(args.baseline, workdir), "current": imports}
    try:
        with app.app_context():
            upgrade()
            demo.seed_demo()
            fields.define_field("city", "City", "ordinary")
            owner = create_staff("owner@example.com", "correct horse battery", "owner")
            db.session.commit()
            order = [*paths, *reversed(paths)] * args.rounds
            for number, path in enumerate(order):
                for mode in ("has_consent", "double_opt_in"):
                    target = create_list(f"Bench {number} {mode}")
                    db.session.commit()
                    csv_path = os.path.join(workdir, f"{number}-{mode}.csv")
                    _write_csv(csv_path, args.rows, f"r{number}{mode[0]}-")
                    module = modules[path]
                    started, cpu, server = time.perf_counter(), time.process_time(), _server_cpu(name)
                    with open(csv_path, "rb") as handle:
                        job = module.create_import(
                            module.ImportRequest("people.csv", handle, target, mode, STATEMENT), owner.id
                        )
                    module.confirm_mapping(job, [t or "ignore" for t in job.layout["mapping"]], queue=False)
                    db.session.commit()
                    module.run_import(job.id)
                    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
                    after = _server_cpu(name)
                    server = after - server if after is not None and server is not None else None
                    db.session.refresh(job)
                    assert job.status == "done", job.error
                    assert job.added + job.invited == args.rows, (job.added, job.invited, job.skipped)
                    rate = args.rows / seconds
                    rates[path].append(rate)
                    app_us = 1e6 * cpu / args.rows
                    cost = f"app={app_us:.0f}µs"
                    if server is not None:
                        db_us = 1e6 * server / args.rows
                        costs[path].append(app_us + db_us)
                        cost += f" db={db_us:.0f}µs one_core={1e6 / (app_us + db_us):,.0f}/s"
                    print(
                        f"import path={path:8s} mode={mode:13s} rows={args.rows:,} time={seconds:.1f}s "
                        f"rate={rate:,.0f}/s python_cpu={cpu:.1f}s cpu_per_contact: {cost} "
                        f"load={os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
            events = db.session.execute(select(func.count()).select_from(ConsentEvent)).scalar_one()
            started = time.perf_counter()
            report = verify_chain()
            print(f"verify events={events:,} ok={report.ok} time={time.perf_counter() - started:.1f}s")
            assert report.ok, report
            db.session.remove()
    finally:
        with app.app_context():
            db.engine.dispose()
        drop_postgres_database(args.server, name)
    means = {path: statistics.mean(found) for path, found in rates.items()}
    line = " ".join(f"{path}={rate:,.0f}" for path, rate in means.items())
    print(f"import: rows={args.rows} {line} speedup={means['current'] / means['baseline']:.2f}x")
    if all(costs.values()):
        line = " ".join(f"{path}={statistics.mean(found):.0f}µs" for path, found in costs.items())
        print(f"cpu per contact: {line}")


if __name__ == "__main__":
    main()
