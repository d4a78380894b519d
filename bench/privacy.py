"""Benchmark of the privacy module against a real database: export, erasure and a retention run.

Seeds --contacts contacts (bulk insert; --inactive of them with no interaction for 400 days) and one contact
with --events ledger events, --deliveries deliveries and two encrypted fields, then times:
  export     the access ZIP of the busy contact (every collector, README rendering)
  erase      erasing the busy contact (anonymisation across every table, ledger rows blanked)
  dry_run    the retention report over all contacts
  retention  the real run erasing the inactive contacts (re-permission off), per contact
Uses a temporary SQLite file unless --database names an empty PostgreSQL database.

    .venv/bin/python bench/privacy.py [--contacts 20000] [--inactive 500] [--events 5000] [--deliveries 2000]

Last line: `privacy: export=<ms> zip_kb=<kB> erase=<ms> dry_run=<ms> retention=<ms total> per_contact=<ms>`.
"""

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=20000)
    parser.add_argument("--inactive", type=int, default=500)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--database", default="")
    args = parser.parse_args()

    from flask_migrate import upgrade
    from sqlalchemy import insert, select

    from mailer import create_app, demo
    from mailer.campaigns.models import Campaign
    from mailer.consent.ledger import RequestContext, record_consent
    from mailer.contacts import fields
    from mailer.contacts.models.contact import Contact
    from mailer.contacts.operations import email_hash, get_or_create_contact
    from mailer.core.clock import utcnow
    from mailer.core.extensions import db
    from mailer.delivery.models import Delivery
    from mailer.privacy import export
    from mailer.privacy.erasure import erase_contact
    from mailer.privacy.retention import run_retention
    from mailer.privacy.settings import get_settings

    url = args.database or "sqlite:///" + os.path.join(tempfile.mkdtemp(), "bench.db")
    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        form = demo.seed_demo()
        old = utcnow() - timedelta(days=400)
        rows = [
            {
                "public_id": f"bench{n:027d}",
                "email": f"person{n}@example.com",
                "email_hash": email_hash(f"person{n}@example.com"),
                "attributes": {},
                "status": "active",
                "created_at": old if n < args.inactive else utcnow(),
                "updated_at": utcnow(),
            }
            for n in range(args.contacts)
        ]
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(Contact), rows[start : start + 5000])
        busy, _ = get_or_create_contact("busy@example.com", source="bench", name="Busy Person")
        purpose = form.lists[0].purpose
        ctx = RequestContext("bench", ip="203.0.113.9", user_agent="Bench/1.0")
        for n in range(args.events):
            record_consent(busy, purpose, "granted" if n % 2 else "withdrawn", ctx)
        db.session.execute(
            insert(Campaign),
            [
                {"public_id": f"camp{n:028d}", "name": f"C{n}", "subject": f"S{n}", "status": "sent"}
                for n in range(args.deliveries)
            ],
        )
        campaign_ids = db.session.execute(select(Campaign.id)).scalars().all()
        db.session.execute(
            insert(Delivery),
            [
                {"campaign_id": cid, "contact_id": busy.id, "status": "sent", "reason": ""}
                for cid in campaign_ids
            ],
        )
        health = fields.define_field("health", "Health", "sensitive")
        record_consent(busy, health.purpose, "granted", ctx)
        fields.set_value(busy, health, "Coeliac disease")
        get_settings().repermission_enabled = False
        db.session.commit()

        started = time.perf_counter()
        payload = export.build_zip(busy, clear_sensitive=True)
        export_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        erase_contact(busy, RequestContext("bench"))
        db.session.commit()
        erase_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        report = run_retention(dry_run=True)
        dry_ms = (time.perf_counter() - started) * 1000
        assert report.items[-1].count == args.inactive, report.items
        started = time.perf_counter()
        run_retention()
        run_ms = (time.perf_counter() - started) * 1000

    backend = url.split(":", 1)[0]
    print(
        f"{backend}: {args.contacts} contacts ({args.inactive} inactive), busy contact with {args.events} "
        "ledger "
        f"events and {args.deliveries} deliveries"
    )
    print(
        f"privacy: export={export_ms:.0f}ms zip_kb={len(payload) // 1024} erase={erase_ms:.0f}ms "
        f"dry_run={dry_ms:.0f}ms retention={run_ms:.0f}ms per_contact={run_ms / max(1, args.inactive):.1f}ms"
    )


if __name__ == "__main__":
    main()
