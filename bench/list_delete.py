"""Benchmark of deleting a big list on PostgreSQL (issue 13): the request that starts it, and the background
job that ends its subscriptions, against the old way (every subscription ended in the request's one
transaction, mailer.subscriptions.lists.delete_list) measured in the same run on an identical list.

Two lists of --members confirmed subscribers each (contacts written with COPY, subscriptions and granted
consent states by INSERT ... SELECT); then:
  - baseline: delete_list() on list A in one transaction, as the admin and the API did before;
  - new: POST /api/v1/lists/{B}/delete through the app (the 202 and its job), then the job run to the end
    in this process (bulk.run_job, what the worker does), its rate in subscriptions per second.
Each deletion is checked: every subscription ended, one "withdrawn" event per person.

    .venv/bin/python bench/list_delete.py --members 100000

Last line: `list_delete: members=<n> baseline_request_s=<s> request_ms=<ms> job_s=<s> job_rate=<subs/s>`.
"""

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from flask_migrate import upgrade  # noqa: E402  (after the path above)
from sqlalchemy import func, select, text  # noqa: E402

from mailer import create_app, demo  # noqa: E402
from mailer.bulk import operations as bulk  # noqa: E402
from mailer.consent.models import ConsentEvent  # noqa: E402
from mailer.core.extensions import db  # noqa: E402
from mailer.staff.accounts import create_staff  # noqa: E402
from mailer.staff.api_keys import create_key  # noqa: E402
from mailer.subscriptions.lists import create_list, delete_list  # noqa: E402
from mailer.subscriptions.models.lists import MailingList, Subscription  # noqa: E402
from tests.support.db import create_postgres_database, drop_postgres_database  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audience_seed  # noqa: E402  (beside this file)


def _members(lists: list[MailingList]) -> None:
    """Every bench contact confirmed on each list, with a chained "granted" event and its consent state (as
    an import on a stated consent basis leaves them)."""
    for mailing_list in lists:
        db.session.execute(
            text(
                "INSERT INTO subscriptions (contact_id, list_id, status, source, created_at, requested_at, "
                "confirmed_at) SELECT c.id, :l, 'confirmed', c.source, c.created_at, c.created_at, "
                "c.created_at FROM contacts c WHERE c.source = 'import:bench' ORDER BY c.id"
            ),
            {"l": mailing_list.id},
        )
    rows = db.session.execute(
        text("SELECT id, email FROM contacts WHERE source = 'import:bench' ORDER BY id")
    ).all()
    imported = ("import:bench", None, None, {"import": "bench"})
    purposes = [mailing_list.purpose.id for mailing_list in lists]  # not while COPY holds the connection
    audience_seed._copy_chained_events(
        (contact_id, email, purpose_id, "granted", imported)
        for purpose_id in purposes
        for contact_id, email in rows
    )
    audience_seed._derive_states()
    db.session.commit()


def _check(mailing_list: MailingList, n: int) -> None:
    db.session.expire_all()
    still_open = db.session.execute(
        select(func.count())
        .select_from(Subscription)
        .where(Subscription.list_id == mailing_list.id, Subscription.status != "unsubscribed")
    ).scalar_one()
    withdrawn = db.session.execute(
        select(func.count(ConsentEvent.id), func.count(func.distinct(ConsentEvent.contact_id))).where(
            ConsentEvent.purpose_id == mailing_list.purpose.id, ConsentEvent.action == "withdrawn"
        )
    ).one()
    assert still_open == 0 and tuple(withdrawn) == (n, n), (still_open, tuple(withdrawn))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument(
        "--server", default=os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the old one-transaction deletion")
    args = parser.parse_args()
    name = f"list_delete_bench_{os.getpid()}"
    url = create_postgres_database(args.server, name)
    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": url})
    n = args.members
    try:
        with app.app_context():
            upgrade()
            demo.seed_demo()
            owner = create_staff("owner@example.com", "correct horse battery", "owner")
            _, secret = create_key("Bench", "read_write", owner)
            list_a, list_b = create_list("Old way"), create_list("New way")
            db.session.commit()
            started = time.perf_counter()
            audience_seed._copy_contacts(n, "import:bench")
            _members([list_a, list_b])
            print(f"seed   {n:,} contacts on two lists: {time.perf_counter() - started:.1f}s", flush=True)

            baseline = 0.0
            if not args.no_baseline:
                started = time.perf_counter()
                delete_list(list_a, list_a.name, owner, "203.0.113.7")
                db.session.commit()
                baseline = time.perf_counter() - started
                _check(list_a, n)
                print(f"old    one transaction in the request: {baseline:.1f}s ({n / baseline:,.0f}/s)")

            client = app.test_client()
            started = time.perf_counter()
            answer = client.post(
                f"/api/v1/lists/{list_b.public_id}/delete",
                json={"confirm_name": list_b.name},
                headers={"Authorization": f"Bearer {secret}"},
            )
            request_ms = (time.perf_counter() - started) * 1000
            assert answer.status_code == 202, answer.get_json()
            job = bulk.job_by_public_id(answer.get_json()["id"])
            assert job is not None
            print(
                f"new    POST /lists/{{id}}/delete: {answer.status_code} in {request_ms:.0f} ms, "
                f"job of {job.total:,}"
            )
            started = time.perf_counter()
            bulk.run_job(job.id)
            job_s = time.perf_counter() - started
            _check(list_b, n)
            rate = n / job_s
            print(
                f"new    the job (batches of 500, each committed): {job_s:.1f}s ({rate:,.0f} subscriptions/s)"
            )
            print(
                f"list_delete: members={n} baseline_request_s={baseline:.1f} request_ms={request_ms:.0f} "
                f"job_s={job_s:.1f} job_rate={rate:.0f}"
            )
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop_postgres_database(args.server, name)


if __name__ == "__main__":
    main()
