"""`consent verify`: the direct spelling of the hashed form equals the rule's, and the incremental mode proves
only what came after the last checkpoint while still catching tampering there."""

from datetime import datetime

import pytest
from sqlalchemy import func, select

from mailer.consent import chain
from mailer.consent.ledger import EventDraft, RequestContext, append_events
from mailer.consent.models import ConsentEvent, LedgerCheckpoint
from mailer.consent.verify import verify_chain, verify_since_checkpoint
from mailer.contacts.operations import get_or_create_contact
from mailer.core.extensions import db
from tests.conftest import sql

ROWS = [
    {
        "contact_id": 7,
        "purpose_id": None,
        "action": "granted",
        "source": 'import:"x" \\ ü €',
        "notice_id": None,
        "details": {"z": [1, "ä"], "a": {"nested": None}, "statement": "line\nbreak\t\u2028"},
        "created_at": datetime(2026, 1, 2, 3, 4, 5, 6),
        "pii_digest": "a" * 64,
        "prev_hash": chain.GENESIS_HASH,
    },
    {
        "contact_id": 123456789,
        "purpose_id": 3,
        "action": "confirmed",
        "source": "form",
        "notice_id": 12,
        "details": {},
        "created_at": datetime(2026, 12, 31, 23, 59, 59),
        "pii_digest": "b" * 64,
        "prev_hash": "c" * 64,
    },
    {
        "contact_id": 1,
        "purpose_id": 2,
        "action": "withdrawn",
        "source": "",
        "notice_id": None,
        "details": None,
        "created_at": datetime(2025, 6, 1),
        "pii_digest": "d" * 64,
        "prev_hash": "e" * 64,
    },
]


@pytest.mark.parametrize("row", ROWS)
def test_the_direct_hashed_form_is_byte_identical_to_the_rule(row):
    assert chain.stored_hashed_form(**row) == chain.hashed_form(row)


def _append(count: int, source: str = "test") -> None:
    contact, _ = get_or_create_contact("ann@example.com", source="test")
    db.session.flush()
    ctx = RequestContext(source, ip="192.0.2.1", user_agent="Probe/1.0")
    append_events(
        db.session.connection(),
        [EventDraft(contact.id, contact.email, None, "granted", ctx, details={"n": n}) for n in range(count)],
    )
    db.session.commit()


def test_an_incremental_run_checks_only_the_new_events(app_ctx, runner):
    first = verify_since_checkpoint()  # no checkpoint yet: a full run, which stores one
    assert first.ok and first.checked == 0
    _append(30)
    full = runner.invoke(args=["consent", "verify"])
    assert full.exit_code == 0 and "Ledger intact: 30 events verified." in full.output
    _append(5)
    result = runner.invoke(args=["consent", "verify", "--incremental"])
    assert result.exit_code == 0, result.output
    newest_before = db.session.execute(select(func.max(LedgerCheckpoint.event_id))).scalar_one()
    assert "Ledger intact: 5 events verified since event" in result.output
    again = verify_since_checkpoint()
    assert again.ok and again.checked == 0 and again.since_event_id == newest_before
    assert verify_chain().checked == 35


def test_a_checkpoint_names_the_newest_event_by_its_id_and_hash(app_ctx):
    _append(12)
    assert verify_chain(checkpoint=True).ok
    newest = db.session.execute(
        select(ConsentEvent.id, ConsentEvent.hash).order_by(ConsentEvent.id.desc()).limit(1)
    ).one()
    checkpoint = db.session.execute(select(LedgerCheckpoint)).scalar_one()
    assert (checkpoint.event_id, checkpoint.hash, checkpoint.checked) == (newest.id, newest.hash, 12)


def test_no_checkpoint_is_kept_when_the_ledger_head_names_another_event(app_ctx):
    """The checkpoint takes its event from the ledger head (hashes are not indexed); a head whose event id
    was altered gives no checkpoint, so the next incremental run proves the whole ledger."""
    _append(3)
    sql("UPDATE ledger_head SET last_event_id = last_event_id - 1")
    db.session.commit()
    assert verify_chain(checkpoint=True).ok
    assert db.session.execute(select(func.count()).select_from(LedgerCheckpoint)).scalar_one() == 0
    assert verify_since_checkpoint().checked == 3


def test_an_incremental_run_catches_tampering_after_and_at_its_checkpoint(app_ctx, runner):
    _append(10)
    assert verify_chain(checkpoint=True).ok
    _append(3)
    newest = db.session.execute(select(ConsentEvent).order_by(ConsentEvent.id.desc())).scalars().first()
    sql("UPDATE consent_events SET action = 'withdrawn' WHERE id = :id", id=newest.id)
    tampered = runner.invoke(args=["consent", "verify", "--incremental"])
    assert tampered.exit_code == 1
    assert f"Ledger TAMPERED at event {newest.id}: event content was altered" in tampered.output
    sql("UPDATE consent_events SET action = 'granted' WHERE id = :id", id=newest.id)
    checkpoint = db.session.execute(select(LedgerCheckpoint)).scalar_one()
    sql("UPDATE consent_events SET source = 'forged' WHERE id = :id", id=checkpoint.event_id)
    report = verify_since_checkpoint()
    assert not report.ok and report.bad_event_id == checkpoint.event_id
    assert report.reason == "event content was altered"
    sql("UPDATE consent_events SET hash = :h WHERE id = :id", h="f" * 64, id=checkpoint.event_id)
    report = verify_since_checkpoint()
    assert not report.ok and report.reason == "the event of the last checkpoint was removed or altered"
    assert not verify_chain().ok


def test_a_group_is_drafted_at_one_moment_with_a_salt_of_its_own_per_event(app_ctx, runner):
    """append_events drafts a group under one lock of the head: one time for the group (the chain's times
    never go back) and a fresh 128-bit salt per event (an event's personal-data digest stays its own); the
    chain still verifies."""
    _append(3)
    _append(40)
    events = db.session.execute(select(ConsentEvent).order_by(ConsentEvent.id)).scalars().all()
    first, group = events[:3], events[3:]
    assert len({event.created_at for event in group}) == 1
    assert group[0].created_at >= max(event.created_at for event in first)
    salts = [event.pii_salt for event in events]
    assert len(set(salts)) == 43 and all(len(salt) == 32 and int(salt, 16) >= 0 for salt in salts)
    assert len({event.pii_digest for event in group}) == 40
    result = runner.invoke(args=["consent", "verify"])
    assert result.exit_code == 0 and "Ledger intact: 43 events verified." in result.output
