"""Benchmark of finding contacts: a whole address, part of an address, part of a name, and keyset pages.

Seeds --contacts contacts in one SQL statement (person<n>@<domain>, names "First Last<n>"), then times
search_contacts (the admin page's query) as the median of --repeat runs:
  exact     a whole address (the blind-index fast path)
  partial   part of an address ("person12345@")
  name      part of a name ("ast77")
  page      the 1,000th page of 50 by keyset (after= the previous page's last contact)
Uses a temporary SQLite file unless --database names an empty PostgreSQL database.

    .venv/bin/python bench/contact_search.py [--contacts 100000] [--database postgresql://…/empty]

Last line: `contact_search: contacts=<n> exact_ms=<ms> partial_ms=<ms> name_ms=<ms> page_ms=<ms>`.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--database", default="")
    args = parser.parse_args()

    from flask_migrate import upgrade
    from sqlalchemy import select, text

    from mailer import create_app
    from mailer.contacts.models.contact import Contact
    from mailer.contacts.operations import email_hash, search_contacts
    from mailer.core.extensions import db

    url = args.database or "sqlite:///" + os.path.join(tempfile.mkdtemp(), "bench.db")
    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": url})
    n = args.contacts
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        postgres = db.engine.dialect.name == "postgresql"
        series = (
            "generate_series(1, :n) AS i"
            if postgres
            else "(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :n) "
            "SELECT i FROM s)"
        )
        public_id = "md5(i::text)" if postgres else "hex(randomblob(11))"
        db.session.execute(
            text(
                "INSERT INTO contacts (public_id, email, email_hash, name, attributes, status, created_at, "
                f"updated_at) SELECT substr({public_id}, 1, 22), 'person' || i || '@example' || (i % 97) || "
                "'.com', 'h' || i, 'First Last' || i, '{}', 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP "
                f"FROM {series}"
            ),
            {"n": n},
        )
        # The one contact the exact search looks for, with its real blind index.
        probe = f"person{n // 2}@example{(n // 2) % 97}.com"
        db.session.execute(
            text("UPDATE contacts SET email_hash = :h WHERE email = :e"), {"h": email_hash(probe), "e": probe}
        )
        db.session.commit()
        if postgres:
            db.session.execute(text("ANALYZE contacts"))
            db.session.commit()
        print(f"seeded {n} contacts in {time.perf_counter() - started:.1f} s", file=sys.stderr)

        def timed(run) -> float:
            samples = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                run()
                samples.append((time.perf_counter() - t0) * 1000)
                db.session.rollback()
            return statistics.median(samples)

        target = n // 2
        assert [c.email for c in search_contacts(probe).items] == [probe]
        page_start = db.session.execute(
            select(Contact.public_id).order_by(Contact.id.desc()).offset(50 * 999 - 1).limit(1)
        ).scalar()
        figures = {
            "exact": timed(lambda: search_contacts(probe)),
            "partial": timed(lambda: search_contacts(f"person{target}@")),
            "name": timed(lambda: search_contacts(f"ast{target}")),
            "page": timed(lambda: search_contacts("", after=page_start)),
        }
    print(
        f"contact_search: contacts={n} " + " ".join(f"{key}_ms={value:.1f}" for key, value in figures.items())
    )


if __name__ == "__main__":
    main()
