"""Benchmark of outgoing webhooks: N confirmed subscriptions become N signed deliveries to a local receiver.

In one process, on its own database (a temporary SQLite file, or `--database-url` naming an empty PostgreSQL
database that is migrated here): N contacts are subscribed and confirmed (N ledger rows), an endpoint on a
receiver on 127.0.0.1 wants `subscription.confirmed`; then the dispatcher reads the ledger into events and
deliveries, and the in-process dramatiq worker (`--threads`) signs and POSTs them all.

    .venv/bin/python bench/webhooks.py [--n 2000] [--threads 4] [--database-url postgresql://…]

Last line: `webhooks: N=<n> scan_rows_per_s=<a> deliveries_per_s=<b> threads=<t>`.
"""

import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    from sqlalchemy import func, select

    from mailer import create_app
    from mailer.core.extensions import db
    from mailer.subscriptions.lists import create_list
    from mailer.webhooks import outbox, sending
    from mailer.webhooks.models import DeliveryStatus, WebhookDelivery
    from mailer.webhooks.operations import EndpointFields, create_endpoint
    from tests.support.campaigns import subscriber
    from tests.support.db import migrate_schema
    from tests.support.receiver import Receiver
    from tests.support.workers import FailureRecorder, drain

    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    migrate_schema(url)
    app = create_app(
        {
            "MAILER_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": url,
            "MAILER_OUTBOUND_ALLOW_HOSTS": ["127.0.0.1"],
        }
    )
    app.extensions["mailer.workers"].broker.add_middleware(FailureRecorder())  # what drain() waits with
    receiver = Receiver().start()
    with app.app_context():
        create_endpoint(EndpointFields(url=receiver.url("/in"), events=["subscription.confirmed"]))
        news = create_list("Bench")
        db.session.commit()
        for i in range(args.n):
            subscriber(news, f"bench{i}@example.net", f"Bench {i}")
            if i % 500 == 499:
                db.session.commit()
        db.session.commit()

        started = time.monotonic()
        while outbox.scan_ledger():
            db.session.commit()
        db.session.commit()
        scanned = time.monotonic() - started

        workers = app.extensions["mailer.workers"]
        workers.start_worker(threads=args.threads)
        started = time.monotonic()
        while True:
            sending.dispatch_due()
            drain(app)
            db.session.expire_all()
            done = db.session.execute(
                select(func.count()).where(WebhookDelivery.status == DeliveryStatus.SUCCEEDED)
            ).scalar_one()
            if done >= args.n:
                break
        delivered = time.monotonic() - started
        workers.stop_worker()
    receiver.stop()
    print(
        f"webhooks: N={args.n} scan_rows_per_s={args.n / scanned:.0f} "
        f"deliveries_per_s={args.n / delivered:.0f} threads={args.threads} received={len(receiver.requests)}"
    )


if __name__ == "__main__":
    main()
