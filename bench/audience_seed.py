"""Fast seeding of bench/audience.py's audience with set-based SQL (PostgreSQL only).

The page, segment and verify parts of the benchmark need a million contacts in a few minutes, not the import
path's hour (the import is measured on its own, see audience.py --import-rows). What this writes is what the
imports and the other events would have left:
  - contacts through COPY (address, keyed blind index, name, public id), the city field by INSERT ... SELECT;
  - list A's subscriptions (confirmed) and list B's (pending) by INSERT ... SELECT;
  - the ledger events chained through the product's own ledger.append_events (so `consent verify` checks a
    real chain): one 'granted' per list A subscription and one 'requested' per list B one, as the imports
    write them, then list B confirmations, tracking consent and withdrawals; the subscriptions follow their
    consent states.
"""

import hashlib
import json
import secrets
import time
from datetime import timedelta

from sqlalchemy import text

from mailer.consent import chain, ledger
from mailer.consent.models import ACTION_STATES
from mailer.contacts.operations import email_hash
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.ids import new_public_id

BATCH = 5000
CITIES = ("Oslo", "Rome", "Lima", "Bonn", "Kyiv", "Riga")


def address(k: int) -> str:
    return f"person{k}@example.com"


def _copy_contacts(n: int, source: str) -> None:
    raw = db.session.connection().connection.driver_connection
    now = utcnow()
    with (
        raw.cursor() as cursor,
        cursor.copy(
            "COPY contacts (public_id, email, email_hash, name, attributes, status, source, created_at, "
            "updated_at) FROM STDIN"
        ) as copy,
    ):
        for k in range(n):
            email = address(k)
            # sign-up dates spread over about two years, oldest first
            added = now - timedelta(seconds=(n - k) * 63_000_000 // max(n, 1))
            copy.write_row(
                (
                    new_public_id(),
                    email,
                    email_hash(email),
                    f"Person No{k}",
                    "{}",
                    "active",
                    source,
                    added,
                    added,
                )
            )


def _copy_chained_events(events) -> int:
    """COPY events into the ledger, chained after its head exactly as chain.link would chain them (the hashed
    form through chain.stored_hashed_form, which tests/consent/test_verify.py proves byte-identical), with ids
    taken from the sequence in order; the head moves to the last. `consent verify` checks the result."""
    connection = db.session.connection()
    previous = ledger._lock_head(connection)
    first = connection.execute(text("SELECT last_value + 1 FROM consent_events_id_seq")).scalar_one()
    first = max(
        first, connection.execute(text("SELECT coalesce(max(id), 0) + 1 FROM consent_events")).scalar_one()
    )
    raw = connection.connection.driver_connection
    start = utcnow()
    event_id = first - 1
    sha256 = hashlib.sha256
    with (
        raw.cursor() as cursor,
        cursor.copy(
            "COPY consent_events (id, contact_id, purpose_id, action, source, notice_id, email, ip, "
            "user_agent, details, created_at, pii_salt, pii_digest, prev_hash, hash) FROM STDIN"
        ) as copy,
    ):
        for contact_id, email, purpose_id, action, (source, ip, agent, details) in events:
            event_id += 1
            created = start + timedelta(microseconds=event_id - first)
            salt = secrets.token_hex(16)
            digest = chain.pii_digest(salt, email, ip, agent)
            form = chain.stored_hashed_form(
                action, contact_id, created, details, None, digest, previous, purpose_id, source
            )
            current = sha256(form).hexdigest()
            copy.write_row(
                (
                    event_id,
                    contact_id,
                    purpose_id,
                    action,
                    source,
                    None,
                    email,
                    ip,
                    agent,
                    json.dumps(details),
                    created,
                    salt,
                    digest,
                    previous,
                    current,
                )
            )
            previous = current
    connection.execute(text("SELECT setval('consent_events_id_seq', :v)"), {"v": event_id})
    connection.execute(
        text("UPDATE ledger_head SET last_hash = :h, last_event_id = :e WHERE id = 1"),
        {"h": previous, "e": event_id},
    )
    return event_id - first + 1


def _derive_states() -> None:
    """Each contact's consent state per purpose from its newest event that sets one (ledger._state_rows)."""
    states = ", ".join(f"('{action}', '{state}')" for action, state in ACTION_STATES.items() if state)
    db.session.execute(
        text(
            "INSERT INTO consent_states (contact_id, purpose_id, status, event_id, updated_at) "
            "SELECT DISTINCT ON (e.contact_id, e.purpose_id) e.contact_id, e.purpose_id, s.state, e.id, "
            "e.created_at "
            f"FROM consent_events e JOIN (VALUES {states}) AS s (action, state) ON s.action = e.action "
            "WHERE e.purpose_id IS NOT NULL ORDER BY e.contact_id, e.purpose_id, e.id DESC "
            "ON CONFLICT (contact_id, purpose_id) DO UPDATE SET status = excluded.status, "
            "event_id = excluded.event_id, updated_at = excluded.updated_at"
        )
    )


def seed(n: int, list_a, list_b, city_field_id: int, say) -> None:
    """Write the audience of `n` contacts; commits as it goes."""
    started = time.perf_counter()
    _copy_contacts(n, "import:bench")
    number = "substring(c.email from 'person([0-9]+)@')::int"
    db.session.execute(
        text(
            "INSERT INTO contact_field_values (contact_id, field_id, value, updated_at) "
            f"SELECT c.id, :f, (ARRAY{list(CITIES)!r})[{number} % 6 + 1], now() FROM contacts c "
            "WHERE c.source = 'import:bench'"
        ),
        {"f": city_field_id},
    )
    for list_id, status, where in (
        (list_a.id, "confirmed", "true"),
        (list_b.id, "pending", f"{number} % 10 < 3"),
    ):
        db.session.execute(
            text(
                "INSERT INTO subscriptions (contact_id, list_id, status, source, created_at, requested_at, "
                "confirmed_at) SELECT c.id, :l, CAST(:s AS text), c.source, c.created_at, c.created_at, "
                "CASE WHEN CAST(:s AS text) = 'confirmed' THEN c.created_at END FROM contacts c "
                f"WHERE c.source = 'import:bench' AND {where} ORDER BY c.id"
            ),
            {"l": list_id, "s": status},
        )
    db.session.commit()
    say(f"seed   contacts, field values and subscriptions (SQL, COPY): {time.perf_counter() - started:.1f}s")

    started = time.perf_counter()
    ids = [
        contact_id
        for (contact_id,) in db.session.execute(
            text("SELECT id FROM contacts WHERE source = 'import:bench' ORDER BY id")
        )
    ]
    assert len(ids) == n, (len(ids), n)
    details = {"import": "bench", "file": "people.csv", "statement": "Signed up at our shops 2019-2025."}
    imported = ("import:bench", None, None, details)
    tracking = [
        purpose_id
        for (purpose_id,) in db.session.execute(
            text("SELECT id FROM purposes WHERE key IN ('tracking:open', 'tracking:click') ORDER BY key")
        )
    ]
    ctx = ("bench", "203.0.113.7", "Mozilla/5.0 Bench", {})
    a, b = list_a.purpose.id, list_b.purpose.id

    def events():
        for k, contact_id in enumerate(ids):
            yield contact_id, address(k), a, "granted", imported
        for k, contact_id in enumerate(ids):
            if k % 10 < 3:
                yield contact_id, address(k), b, "requested", imported
        for k, contact_id in enumerate(ids):
            if k % 10 < 3 and k % 5 != 4:  # 80 % of list B confirm
                yield contact_id, None, b, "confirmed", ctx
            if k % 5 < 2:  # 40 % consent to tracking
                yield from ((contact_id, None, p, "granted", ctx) for p in tracking)
            if k % 100 < 3:  # 3 % withdraw from list A
                yield contact_id, None, a, "withdrawn", ctx

    count = _copy_chained_events(events())
    _derive_states()
    db.session.commit()
    say(f"seed   {count:,} consent events chained and copied: {time.perf_counter() - started:.1f}s")
    for list_id, purpose_id, state, status, stamp in (
        (list_b.id, list_b.purpose.id, "granted", "confirmed", "confirmed_at"),
        (list_a.id, list_a.purpose.id, "withdrawn", "unsubscribed", "unsubscribed_at"),
    ):
        db.session.execute(
            text(
                f"UPDATE subscriptions s SET status = :status, {stamp} = now() FROM consent_states c "
                "WHERE c.contact_id = s.contact_id AND c.purpose_id = :p AND c.status = :state "
                "AND s.list_id = :l"
            ),
            {"p": purpose_id, "l": list_id, "state": state, "status": status},
        )
    db.session.commit()
