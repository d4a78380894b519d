"""Benchmark of the JSON API in-process (Flask test client, no network): lookups, ledger paging, sign-ups.

Seeds --contacts contacts (bulk insert) and one contact with --events ledger events, then times:
  lookup   GET /contacts?email=…              (blind-index lookup + full profile)
  profile  GET /contacts/<id>
  ledger   GET /contacts/<id>/consent?limit=200, first and last page (keyset paging: should be flat)
  signup   POST /subscriptions                 (response floor set to 0; confirmation emails only queued)
Uses a temporary SQLite file unless --database names a migrated-on-the-fly PostgreSQL database.

    .venv/bin/python bench/api.py [--contacts 20000] [--events 5000] [--requests 300] [--database URL]

Last line: `api: lookup_p50=<ms> profile_p50=<ms> ledger_first=<ms> ledger_last=<ms> signup_p50=<ms>`.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _timed(call, repeat: int) -> list[float]:
    times = []
    for n in range(repeat):
        started = time.perf_counter()
        response = call(n)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code < 300, response.get_data(as_text=True)
    return times


def _ms(times: list[float], q: float = 0.5) -> float:
    return round(statistics.quantiles(times, n=100)[int(q * 100) - 1] if len(times) > 1 else times[0], 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=20000)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--database", default="")
    args = parser.parse_args()

    from flask_migrate import upgrade
    from sqlalchemy import insert

    from mailer import create_app, demo
    from mailer.consent.ledger import RequestContext, record_consent
    from mailer.contacts.models.contact import Contact
    from mailer.contacts.operations import email_hash, get_or_create_contact
    from mailer.core.extensions import db
    from mailer.staff.api_keys import create_key

    url = args.database or "sqlite:///" + os.path.join(tempfile.mkdtemp(), "bench.db")
    app = create_app(
        {
            "MAILER_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": url,
            "SIGNUP_RESPONSE_FLOOR_MS": 0,
            "API_RATE_LIMIT": "1000000 per minute",
            "SIGNUP_RATE_LIMIT_ADDRESS": "1000000 per hour",
            "CONFIRM_EMAIL_PER_DOMAIN": "1000000 per hour",
        }
    )
    with app.app_context():
        upgrade()
        form = demo.seed_demo()
        list_id = form.lists[0].public_id
        rows = [
            {
                "public_id": f"bench{n:027d}",
                "email": f"person{n}@example.com",
                "email_hash": email_hash(f"person{n}@example.com"),
                "attributes": {},
                "status": "active",
            }
            for n in range(args.contacts)
        ]
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(Contact), rows[start : start + 5000])
        busy, _ = get_or_create_contact("busy@example.com", source="bench")
        purpose = form.lists[0].purpose
        for n in range(args.events):
            record_consent(busy, purpose, "granted" if n % 2 else "withdrawn", RequestContext("bench"))
        _, key = create_key("bench", "read_write", None)
        db.session.commit()
        busy_id = busy.public_id

    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    lookup = _timed(
        lambda n: client.get(
            f"/api/v1/contacts?email=person{(n * 7919) % args.contacts}@example.com", headers=headers
        ),
        args.requests,
    )
    profile = _timed(
        lambda n: client.get(f"/api/v1/contacts/bench{(n * 7919) % args.contacts:027d}", headers=headers),
        args.requests,
    )
    pages, after = [], None
    while True:
        started = time.perf_counter()
        page = client.get(
            f"/api/v1/contacts/{busy_id}/consent?limit=200" + (f"&after={after}" if after else ""),
            headers=headers,
        ).get_json()
        pages.append((time.perf_counter() - started) * 1000)
        after = page["next_cursor"]
        if after is None:
            break
    body = {
        "lists": [list_id],
        "consent": {"text": "Yes, send me the newsletter.", "source_url": "https://shop.example.com/"},
    }
    signup = _timed(
        lambda n: client.post(
            "/api/v1/subscriptions", headers=headers, json={**body, "email": f"new{n}@example.com"}
        ),
        args.requests,
    )
    backend = url.split(":", 1)[0]
    print(
        f"{backend}: {args.contacts} contacts, {args.events} ledger events ({len(pages)} pages of 200), "
        f"{args.requests} requests each"
    )
    print(
        f"api: lookup_p50={_ms(lookup)} lookup_p95={_ms(lookup, 0.95)} profile_p50={_ms(profile)} "
        f"ledger_first={round(pages[0], 2)} ledger_last={round(pages[-1], 2)} "
        f"signup_p50={_ms(signup)} signup_p95={_ms(signup, 0.95)}"
    )


if __name__ == "__main__":
    main()
