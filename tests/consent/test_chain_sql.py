"""The ledger chain, one definition: PostgreSQL's ledger_append (mailer/consent/sql) stores the same events
with identical digests and hashes as the Python chain (ledger.append_rows) from the same drafted events, and
the result is a chain `flask consent verify` accepts."""

import copy
import json
from datetime import datetime

import pytest
from sqlalchemy import select, text

from mailer.consent import chain
from mailer.consent.ledger import (
    EventDraft,
    RequestContext,
    append_rows,
    draft_row,
    record_consent,
    verify_chain,
)
from mailer.consent.models import ACTION_STATES, ConsentEvent, ConsentState, LedgerHead
from mailer.consent.notices import publish_notice
from mailer.contacts.operations import get_or_create_contact
from mailer.core.extensions import db
from mailer.subscriptions.lists import create_list, ensure_tracking_purposes

ODD = RequestContext(
    'door "quoted" \\ back\tslash — ünïcödé ✉ \u2028\x01',
    "2001:db8::1",
    'UA "x" \\ \t — ✉ \u2028 \x01 <script>',
)
PLAIN = RequestContext("form:demo", "192.0.2.1", "Mozilla/5.0")
NOBODY = RequestContext("system:retention")


def _drafts() -> list[EventDraft]:
    """Events of every shape: with and without purpose, notice, address, IP and user agent; odd text."""
    ann, _ = get_or_create_contact("ann@example.com", source="form")
    zoe, _ = get_or_create_contact("zoë.o'neil+ünï@exämple.com", source="form")
    news = create_list("News")
    opens, _ = ensure_tracking_purposes()
    notice = publish_notice("form:demo", {"intro": "Yes, send me the news."})
    db.session.commit()
    details = {"z": [1, 2.5, None, True, False], "a": {"ключ": "值"}, "list": "x'y", "n": 10**15}
    return [
        EventDraft(ann.id, ann.email, news.purpose.id, "requested", PLAIN, notice.id, {"form": "demo"}),
        EventDraft(ann.id, ann.email, None, "confirmation_sent", NOBODY, None, {"message_id": "<a@b>"}),
        EventDraft(ann.id, ann.email, news.purpose.id, "confirmed", PLAIN),
        EventDraft(zoe.id, zoe.email, opens.id, "granted", ODD, notice.id, details),
        EventDraft(zoe.id, None, opens.id, "withdrawn", ODD, None, {}),
        EventDraft(zoe.id, zoe.email, None, "erased", NOBODY, None, {"reason": "asked"}),
    ]


def _stored(connection) -> dict:
    """Every stored column of the events (their ids aside), the states they left and the head."""
    columns = [c for c in ConsentEvent.__table__.columns if c.key != "id"]
    return {
        "events": [tuple(row) for row in connection.execute(select(*columns).order_by(ConsentEvent.id))],
        "states": sorted(
            tuple(row)
            for row in connection.execute(
                select(
                    ConsentState.contact_id,
                    ConsentState.purpose_id,
                    ConsentState.status,
                    ConsentState.updated_at,
                )
            )
        ),
        "head": connection.execute(select(LedgerHead.last_hash)).scalar_one(),
    }


def _database_payload(rows: list[dict]) -> str:
    """The drafted rows as ledger_append takes them: chain.database_fields plus what the database fills in."""
    keys = ("contact_id", "purpose_id", "notice_id", "email", "action")
    return json.dumps(
        [
            {**chain.database_fields(row), **{k: row[k] for k in keys}, "state": ACTION_STATES[row["action"]]}
            for row in rows
        ]
    )


def test_the_database_and_python_chain_the_same_events_to_the_same_hashes(app_ctx):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("ledger_append is PostgreSQL's side of the chain")
    rows = [draft_row(draft) for draft in _drafts()]
    with db.engine.connect() as connection:
        transaction = connection.begin()
        linked = append_rows(connection, copy.deepcopy(rows))
        by_python = _stored(connection)
        transaction.rollback()
    with db.engine.connect() as connection, connection.begin():
        answered = connection.execute(
            text("SELECT appended_id, appended_hash FROM ledger_append(CAST(:events AS json))"),
            {"events": _database_payload(rows)},
        ).all()
        by_database = _stored(connection)
    assert by_database == by_python
    assert [hash_ for _, hash_ in answered] == [row["hash"] for row in linked]
    assert by_database["head"] == linked[-1]["hash"]
    assert [row[-1] for row in by_database["events"][-len(rows) :]] == [row["hash"] for row in linked]
    report = verify_chain()
    assert report.ok and report.checked == len(rows), report.reason


def test_python_appends_after_the_database_and_the_chain_holds(app_ctx):
    """The two writers share one chain: an event appended in SQL is the predecessor the next Python one
    links."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("ledger_append is PostgreSQL's side of the chain")
    drafts = _drafts()
    rows = [draft_row(draft) for draft in drafts[:3]]
    db.session.execute(
        text("SELECT 1 FROM ledger_append(CAST(:events AS json))"), {"events": _database_payload(rows)}
    )
    db.session.commit()
    ann = db.session.get(ConsentEvent, 1).contact
    event = record_consent(ann, None, "restricted", PLAIN, details={"request": "r1"})
    db.session.commit()
    assert (
        event.prev_hash
        == db.session.execute(
            select(ConsentEvent.hash)
            .where(ConsentEvent.id < event.id)
            .order_by(ConsentEvent.id.desc())
            .limit(1)
        ).scalar_one()
    )
    report = verify_chain()
    assert report.ok and report.checked == 4, report.reason


def test_the_functions_hash_exactly_the_python_hashed_form(app_ctx):
    """Byte for byte: the SQL digest and hash of one odd event equal the Python chain's (no rows written)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("ledger_append is PostgreSQL's side of the chain")
    row = {
        "contact_id": 7,
        "purpose_id": None,
        "action": "withdrawn",
        "notice_id": 12,
        "source": ODD.source,
        "details": {"z": [1, 2.5, None], "a": {"ключ": "值"}, "list": "x'y"},
        "created_at": datetime(2026, 11, 29, 10, 0, 0, 1234),
        "email": "zoë@exämple.com",
        "ip": ODD.ip,
        "user_agent": ODD.user_agent,
        "pii_salt": "ab" * 16,
    }
    [expected] = chain.link([dict(row)], "cd" * 32)
    fields = chain.database_fields(row)
    digest, hash_ = db.session.execute(
        text(
            "SELECT d, ledger_event_hash(CAST(:pieces AS text[]), :contact, :notice, d, :previous, :purpose) "
            "FROM ledger_pii_digest(:salt, :email, :rest) AS d"
        ),
        {
            "pieces": fields["hash_text"],
            "contact": row["contact_id"],
            "notice": row["notice_id"],
            "previous": "cd" * 32,
            "purpose": row["purpose_id"],
            "salt": row["pii_salt"],
            "email": row["email"],
            "rest": fields["pii_rest"],
        },
    ).one()
    assert (digest, hash_) == (expected["pii_digest"], expected["hash"])
