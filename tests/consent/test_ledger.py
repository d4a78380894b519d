"""The consent ledger: append-only, hash-chained, verifiable from the CLI; current consent derived from it."""

import pytest
from sqlalchemy import select

from mailer.consent.models import ConsentEvent, ConsentState
from mailer.core.extensions import db
from mailer.subscriptions.signup import confirmation_token
from tests.conftest import sql
from tests.support.http import consent_values
from tests.support.signup import contact_by_email, sign_up


def _events() -> list[ConsentEvent]:
    db.session.expire_all()
    return list(db.session.execute(select(ConsentEvent).order_by(ConsentEvent.id)).scalars())


def _event(email: str, action: str, which: int = 0) -> ConsentEvent:
    return [e for e in _events() if e.email == email and e.action == action][which]


def _states() -> list[tuple]:
    db.session.expire_all()
    rows = db.session.execute(select(ConsentState).order_by(ConsentState.contact_id, ConsentState.purpose_id))
    return [(s.contact_id, s.purpose_id, s.status, s.event_id, s.updated_at) for s in rows.scalars()]


@pytest.fixture
def ledger(app, client, demo_form, worker):
    """Ann signed up for everything and confirmed; Bob signed up for the list and waits. Both were emailed."""
    sign_up(client, email="ann@example.com", consents=consent_values(client))
    worker.drain()
    assert (
        client.post(f"/confirm/{confirmation_token(contact_by_email('ann@example.com'))}").status_code == 200
    )
    sign_up(client, email="bob@example.com")
    worker.drain()
    assert [(e.email, e.action) for e in _events()] == [
        *[("ann@example.com", "requested")] * 3,
        ("ann@example.com", "confirmation_sent"),
        *[("ann@example.com", "confirmed")] * 3,
        ("bob@example.com", "requested"),
        ("bob@example.com", "confirmation_sent"),
    ]


def _verify(runner):
    return runner.invoke(args=["consent", "verify"])


def test_intact_chain_verifies(app, runner, ledger):
    result = _verify(runner)
    assert result.exit_code == 0, result.output
    assert "Ledger intact: 9 events verified." in result.output


def test_empty_ledger_verifies(app, runner):
    result = _verify(runner)
    assert result.exit_code == 0 and "Ledger intact: 0 events verified." in result.output


def _change_action():
    ev = _event("ann@example.com", "requested")
    sql("UPDATE consent_events SET action = 'granted' WHERE id = :id", id=ev.id)
    return ev.id, "event content was altered"


def _change_ip():
    ev = _event("ann@example.com", "confirmed")
    sql("UPDATE consent_events SET ip = '203.0.113.66' WHERE id = :id", id=ev.id)
    return ev.id, "personal fields were altered"


def _change_user_agent():
    ev = _event("bob@example.com", "requested")
    sql("UPDATE consent_events SET user_agent = 'Forged/1.0' WHERE id = :id", id=ev.id)
    return ev.id, "personal fields were altered"


def _change_time():
    ev = _event("ann@example.com", "confirmed", 1)
    sql(
        "UPDATE consent_events SET created_at = :t WHERE id = :id",
        t=ev.created_at.replace(year=2020),
        id=ev.id,
    )
    return ev.id, "event content was altered"


def _change_notice():
    ev = _event("bob@example.com", "requested")
    sql("UPDATE consent_events SET notice_id = NULL WHERE id = :id", id=ev.id)
    return ev.id, "event content was altered"


def _delete_middle_row():
    gone_id, following_id = (
        _event("ann@example.com", "confirmation_sent").id,
        _event("ann@example.com", "confirmed").id,
    )
    sql("DELETE FROM consent_events WHERE id = :id", id=gone_id)
    return following_id, "link to the previous event is broken"


def _delete_last_row():
    last_id = _event("bob@example.com", "confirmation_sent").id
    sql("DELETE FROM consent_events WHERE id = :id", id=last_id)
    return last_id, "the newest events were removed"


def _rewrite_a_row_and_its_hash():
    """A tamperer who recomputes the row's own hash is still caught by the next row's link."""
    from mailer.consent.ledger import _event_hash

    ev, following = _event("ann@example.com", "requested"), _event("ann@example.com", "requested", 1)
    forged = ConsentEvent(**{c.key: getattr(ev, c.key) for c in ConsentEvent.__table__.columns})
    forged.action = "granted"
    sql(
        "UPDATE consent_events SET action = 'granted', hash = :h WHERE id = :id",
        h=_event_hash(forged),
        id=ev.id,
    )
    return following.id, "link to the previous event is broken"


TAMPERING = [
    _change_action,
    _change_ip,
    _change_user_agent,
    _change_time,
    _change_notice,
    _delete_middle_row,
    _delete_last_row,
    _rewrite_a_row_and_its_hash,
]


@pytest.mark.parametrize("tamper", TAMPERING, ids=[t.__name__.lstrip("_") for t in TAMPERING])
def test_tampering_with_raw_sql_is_detected_and_named(app, runner, ledger, tamper):
    bad_id, reason = tamper()
    result = _verify(runner)
    assert result.exit_code == 1
    assert f"Ledger TAMPERED at event {bad_id}: {reason}" in result.output


def test_orm_cannot_change_a_ledger_row(app, ledger):
    ev = _event("ann@example.com", "confirmed")
    ev.action = "withdrawn"
    with pytest.raises(ValueError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    ev = _event("ann@example.com", "confirmed")
    ev.ip = "198.51.100.1"
    with pytest.raises(ValueError, match="append-only"):
        db.session.commit()
    db.session.rollback()


def test_orm_cannot_delete_a_ledger_row(app, runner, ledger):
    db.session.delete(_event("bob@example.com", "confirmation_sent"))
    with pytest.raises(ValueError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    assert len(_events()) == 9 and _verify(runner).exit_code == 0


def test_current_consent_is_derived_from_the_ledger(app, ledger):
    ann, bob = contact_by_email("ann@example.com"), contact_by_email("bob@example.com")
    states = {(s[0], s[2]) for s in _states()}
    assert states == {(ann.id, "granted"), (bob.id, "pending")}
    for contact_id, _purpose_id, status, event_id, _at in _states():
        ev = db.session.get(ConsentEvent, event_id)
        assert ev.contact_id == contact_id and ev.action == (
            "confirmed" if status == "granted" else "requested"
        )


def test_rebuild_reproduces_the_same_states(app, runner, ledger):
    before = _states()
    assert len(before) == 4  # Ann: list, open and click tracking; Bob: the list
    sql("UPDATE consent_states SET status = 'granted' WHERE status = 'pending'")
    sql("DELETE FROM consent_states WHERE contact_id = :id", id=contact_by_email("ann@example.com").id)
    assert _states() != before
    result = runner.invoke(args=["consent", "rebuild"])
    assert result.exit_code == 0 and "Rebuilt 4 consent states from the ledger." in result.output
    assert _states() == before


def test_a_state_already_loaded_shows_the_new_consent(app, ledger):
    """record_consent writes with Core statements; a state the session holds is kept in step, without a
    reload."""
    from mailer.consent.ledger import RequestContext, consent_status, record_consent

    ann = contact_by_email("ann@example.com")
    state = (
        db.session.execute(select(ConsentState).where(ConsentState.contact_id == ann.id)).scalars().first()
    )
    assert state.status == "granted"
    event = record_consent(ann, state.purpose, "withdrawn", RequestContext("test"))
    assert consent_status(ann, state.purpose) == "withdrawn" and state.event_id == event.id
    assert event.contact.email == "ann@example.com"  # the returned event is a usable row of the session
    db.session.commit()
    assert (ann.id, state.purpose_id, "withdrawn", event.id) in [s[:4] for s in _states()]


def test_the_hashed_form_in_pieces_with_its_holes_filled_is_the_hashed_text():
    """PostgreSQL completes the hashes of grouped unsubscribes from these pieces; filled with the database's
    values they must be byte for byte the text the Python chain and `consent verify` hash."""
    from datetime import datetime

    from mailer.consent.chain import DATABASE_FILLED, hashed_form, hashed_form_pieces

    row = {
        "contact_id": 7,
        "purpose_id": None,
        "action": "withdrawn",
        "notice_id": 12,
        "source": 'door "quoted" \\ back\tslash — ünïcödé ✉ \u2028\x01',
        "details": {"z": [1, 2.5, None], "a": {"ключ": "值"}, "list": "x'y"},
        "created_at": datetime(2026, 11, 29, 10, 0, 0, 1234),
        "pii_digest": "ab" * 32,
        "prev_hash": "cd" * 32,
    }
    pieces = hashed_form_pieces({**row, "contact_id": None, "pii_digest": "wrong"})
    assert len(pieces) == len(DATABASE_FILLED) + 1
    filled = pieces[0]
    for key, piece in zip(DATABASE_FILLED, pieces[1:], strict=True):
        filled += ("null" if row[key] is None else str(row[key])) + piece
    assert filled.encode() == hashed_form(row)
