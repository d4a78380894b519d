"""`consent verify` in spans: on PostgreSQL each span of ids is proven in one statement
(chain.HASHED_FORM_SQL), on SQLite row by row. The SQL spelling is byte-identical to chain.stored_hashed_form
on odd values, and the span walk finds a tampered event in the first, a middle and the last span, and a
link broken at a span boundary."""

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from mailer.consent import chain, walk, walk_sql
from mailer.consent.ledger import EventDraft, RequestContext, append_events
from mailer.consent.models import ConsentEvent
from mailer.consent.verify import verify_chain, verify_since_checkpoint
from mailer.contacts.operations import get_or_create_contact
from mailer.core.extensions import db
from tests.conftest import sql

ODD_TEXT = [
    "",
    "plain",
    'quote " and back \\ slash',
    "tab\tline\nreturn\rform\fbell\x07 escape\x1b del\x7f",
    "ünïcödé ✉ 值 \u2028 \u2029 \u00a0 \ufeff 😀",
    "</script> & ' <",
    "\\u0041 looks like an escape",
]
ODD_DETAILS = [
    None,
    {},
    [],
    0,
    "",
    {"b": 1, "a": "x", "A": "y", "é": "z", "_": None},
    {"z": [1, 2.5, None, True, False, 1e-07, 10**20], "a": {"ключ": "值", "nested": {"deep": [[]]}}},
    {"float": 1.0, "neg": -0.0, "big": 1.5e300, "text": ODD_TEXT[3]},
    ["a list", {"of": "things"}],
    "a bare string",
    True,
]


def _sql_forms(connection, row: dict, details_text: str) -> tuple:
    """Both SQL spellings of the hashed form and of the pii digest over a row given as parameters, and
    whether the row's texts are plain (nothing written)."""
    return connection.execute(
        text(
            f"SELECT {chain.HASHED_FORM_SQL[0]}, {chain.HASHED_FORM_SQL[1]}, {chain.PII_DIGEST_SQL[0]}, "
            f"{chain.PII_DIGEST_SQL[1]}, {chain.SQL_TEXTS_PLAIN} FROM ("
            "SELECT CAST(:action AS text) AS action, CAST(:contact_id AS integer) AS contact_id, "
            "CAST(:created_at AS timestamp) AS created_at, CAST(:notice_id AS integer) AS notice_id, "
            "CAST(:pii_digest AS text) AS pii_digest, CAST(:prev_hash AS text) AS prev_hash, "
            "CAST(:purpose_id AS integer) AS purpose_id, CAST(:source AS text) AS source, "
            "CAST(:salt AS text) AS pii_salt, CAST(:email AS text) AS email, CAST(:ip AS text) AS ip, "
            "CAST(:user_agent AS text) AS user_agent) e, "
            "(SELECT CAST(:details_text AS text) AS details_text) d"
        ),
        {**row, "details_text": details_text},
    ).one()


def test_the_sql_spelling_is_byte_identical_to_the_python_one(app_ctx):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the span statement is PostgreSQL's")
    stamps = [
        datetime(2026, 1, 2, 3, 4, 5, 6),
        datetime(2026, 12, 31, 23, 59, 59),
        datetime(1999, 1, 1),
        datetime(2030, 6, 1, 12, 0, 0, 999999),
    ]
    plain = 0
    with db.engine.connect() as connection:
        for number, details in enumerate(ODD_DETAILS):
            for text_ in ODD_TEXT:
                row = {
                    "action": text_ or "granted",
                    "contact_id": 123456789 if number % 2 else 1,
                    "created_at": stamps[number % len(stamps)],
                    "notice_id": None if number % 3 else 12,
                    "pii_digest": "a" * 64,
                    "prev_hash": chain.GENESIS_HASH,
                    "purpose_id": None if number % 2 else 2_000_000_000,
                    "source": text_,
                    "salt": text_ + "salt",
                    "email": None if number % 4 == 1 else text_ + "@example.com",
                    "ip": None if number % 2 else text_,
                    "user_agent": None if number % 3 == 1 else text_,
                }
                # the details as stored (SQLAlchemy's JSON) and read back, rendered by Python
                rendered = chain.stored_details_text(json.loads(json.dumps(details)))
                quick_form, form, quick_digest, digest, is_plain = _sql_forms(connection, row, rendered)
                python_form = chain.stored_hashed_form(
                    row["action"],
                    row["contact_id"],
                    row["created_at"],
                    details,
                    row["notice_id"],
                    row["pii_digest"],
                    row["prev_hash"],
                    row["purpose_id"],
                    row["source"],
                )
                python_digest = chain.pii_digest(row["salt"], row["email"], row["ip"], row["user_agent"])
                assert form.encode() == python_form == chain.hashed_form({**row, "details": details})
                assert digest == python_digest
                assert is_plain == (json.dumps(text_, ensure_ascii=False) == f'"{text_}"'), text_
                if is_plain:
                    assert (quick_form.encode(), quick_digest) == (python_form, python_digest)
                    plain += 1
    assert plain == len(ODD_DETAILS) * 4  # four of the texts are plain: both spellings were proven


def _ledger(count: int) -> list[int]:
    """`count` events of varied shapes (odd text, details, with and without personal fields); their ids."""
    contact, _ = get_or_create_contact("zoë.o'neil+ünï@exämple.com", source="test")
    db.session.flush()
    drafts = []
    for n in range(count):
        source = ODD_TEXT[n % len(ODD_TEXT)] or "test"
        ctx = RequestContext(source, ip="2001:db8::1", user_agent="UA ✉ \t")
        if n % 3 == 2:
            ctx = RequestContext("system:retention")
        email = contact.email if n % 2 else None
        details = ODD_DETAILS[n % len(ODD_DETAILS)]
        drafts.append(EventDraft(contact.id, email, None, "granted", ctx, None, details))
    append_events(db.session.connection(), drafts)
    db.session.commit()
    ids = list(db.session.execute(select(ConsentEvent.id).order_by(ConsentEvent.id)).scalars())
    for event_id in ids[-count:][4::5]:  # erased: personal fields and salt blanked, the digest stays
        sql(
            "UPDATE consent_events SET email = NULL, ip = NULL, user_agent = NULL, pii_salt = NULL "
            "WHERE id = :id",
            id=event_id,
        )
    return ids


@pytest.fixture
def small_spans(monkeypatch):
    """Spans of 7 ids, so a ledger of 30 events has five."""
    monkeypatch.setattr(walk_sql, "SPAN", 7)


@pytest.mark.parametrize("workers", [1, 3])
def test_an_intact_ledger_of_odd_events_is_proven_in_spans(
    app_ctx, small_spans, runner, monkeypatch, workers
):
    ids = _ledger(30)
    if db.engine.dialect.name == "postgresql":  # proven by the statements alone: no event goes to Python

        def no_row_by_row(*args):
            raise AssertionError("the span statement flagged an intact event")

        monkeypatch.setattr(walk_sql, "check_rows", no_row_by_row)
    progress: list[int] = []
    report = verify_chain(progress.append, workers=workers)
    assert report.ok and report.checked == 30, report
    if db.engine.dialect.name == "postgresql":
        assert progress == [7, 14, 21, 28, 30]
    result = runner.invoke(args=["consent", "verify"])
    assert result.exit_code == 0 and "Ledger intact: 30 events verified." in result.output
    assert ids[-1] - ids[0] == 29


@pytest.mark.parametrize("position", [0, 1, 9, 13, 14, 29])
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("action = 'withdrawn'", walk.ALTERED_CONTENT),
        ("details = '{\"n\": 1}'", walk.ALTERED_CONTENT),
        ("created_at = :moment", walk.ALTERED_CONTENT),
        ("user_agent = 'Forged'", walk.ALTERED_PERSONAL),
        ("prev_hash = hash", walk.BROKEN_LINK),
    ],
)
def test_a_tampered_event_is_named_in_any_span(app_ctx, small_spans, position, change, reason):
    ids = _ledger(30)
    stored = db.session.get(ConsentEvent, ids[position]).created_at
    moment = stored + timedelta(microseconds=1)  # a microsecond's difference is enough
    sql(f"UPDATE consent_events SET {change} WHERE id = :id", id=ids[position], moment=moment)
    report = verify_chain(workers=3)  # spans proven at once: the earliest failure is still the one named
    assert not report.ok
    assert (report.bad_event_id, report.reason, report.checked) == (ids[position], reason, position)


@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("position", [7, 14, 21])
def test_a_link_broken_at_a_span_boundary_is_found(app_ctx, small_spans, position, workers):
    """Removing the last event of a span (then the first of the next) leaves the next linking to nothing."""
    ids = _ledger(30)
    sql("DELETE FROM consent_events WHERE id = :id", id=ids[position - 1])
    report = verify_chain(workers=workers)
    assert (report.ok, report.bad_event_id, report.reason) == (False, ids[position], walk.BROKEN_LINK)
    sql("DELETE FROM consent_events WHERE id = :id", id=ids[position])
    report = verify_chain(workers=workers)
    assert (report.ok, report.bad_event_id, report.reason) == (False, ids[position + 1], walk.BROKEN_LINK)
    assert report.checked == position - 1


def test_removed_newest_events_and_an_incremental_run_in_spans(app_ctx, small_spans):
    ids = _ledger(20)
    assert verify_chain(checkpoint=True).ok
    _ledger(10)
    again = verify_since_checkpoint()
    assert again.ok and again.checked == 10 and again.since_event_id == ids[-1]
    newest = db.session.execute(select(func.max(ConsentEvent.id))).scalar_one()
    sql("DELETE FROM consent_events WHERE id = :id", id=newest)
    report = verify_chain()
    assert (report.ok, report.reason, report.checked) == (False, "the newest events were removed", 29)
