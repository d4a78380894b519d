"""One import's batches written on two connections at once (PostgreSQL, IMPORT_LANES): they commit in file
order, an address in two batches is written once and counted as the rule says, and the ledger holds one
event per person, in batch order, its chain intact."""

import threading

import pytest
from sqlalchemy import func, select

from mailer.consent.ledger import verify_chain
from mailer.consent.models import ConsentEvent
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.imports import ContactImport
from mailer.core.extensions import db
from mailer.subscriptions import imports
from mailer.subscriptions.lists import create_list
from mailer.subscriptions.models.lists import MailingList, Subscription
from tests.support.imports import upload_and_map

pytestmark = pytest.mark.postgres_only
STATEMENT = "Paper sign-up sheets at the 2025 trade fair, archived in the Berlin office."


@pytest.fixture
def lists(demo_form):
    """The list imported into, and another one that some people already belong to."""
    other = create_list("Other news")
    db.session.commit()
    first = db.session.execute(select(MailingList).order_by(MailingList.id)).scalars().first()
    return first, other


def _csv(addresses: list[str]) -> bytes:
    return ("email\n" + "\n".join(addresses) + "\n").encode()


def _import(auth, worker, mailing_list, addresses: list[str]) -> ContactImport:
    assert upload_and_map(auth, mailing_list.id, _csv(addresses), "has_consent", STATEMENT).status_code == 302
    worker.drain()
    db.session.expire_all()
    return db.session.execute(select(ContactImport).order_by(ContactImport.id.desc())).scalars().first()


def _events_of(mailing_list) -> dict[str, list[int]]:
    """Each address's ledger events for the list's purpose, by id."""
    rows = db.session.execute(
        select(Contact.email, ConsentEvent.id)
        .join(ConsentEvent, ConsentEvent.contact_id == Contact.id)
        .where(ConsentEvent.purpose_id == mailing_list.purpose.id)
        .order_by(ConsentEvent.id)
    ).all()
    found: dict[str, list[int]] = {}
    for email, event_id in rows:
        found.setdefault(email, []).append(event_id)
    return found


def test_a_known_person_in_two_batches_in_flight_at_once_is_subscribed_once(auth, worker, lists, monkeypatch):
    """The second batch reads what the database holds for its addresses while the first is still being
    written; the person both have, known before the import, is one the first batch subscribes. After the
    first commits, the second reads that person again: already subscribed, not a second subscription (which
    the list's unique key would refuse, failing the import)."""
    target, other = lists
    known = _import(auth, worker, other, ["known@example.com"])
    assert known.status == "done" and known.added == 1
    monkeypatch.setattr(imports, "BATCH_ROWS", 3)
    second_waits = threading.Event()
    writes = imports._Turn.writes

    def noted(turn):
        if turn.batch == 1:
            second_waits.set()  # the second batch has read its addresses and waits for the first's commit
        writes(turn)

    real = imports.import_batch

    def first_holds(connection, batch_target, rows, order):
        out = real(connection, batch_target, rows, order)
        if order.batch == 0:
            assert second_waits.wait(30), "the second batch never ran beside the first"
        return out

    monkeypatch.setattr(imports._Turn, "writes", noted)
    monkeypatch.setattr(imports, "import_batch", first_holds)
    rows = ["known@example.com", "a@example.com", "b@example.com"]  # batch 0
    rows += ["known@example.com", "c@example.com", "d@example.com"]  # batch 1: the known person again
    rows += ["e@example.com"]  # batch 2

    job = _import(auth, worker, target, rows)

    assert job.status == "done", job.error
    assert (job.processed_rows, job.added, job.skipped) == (7, 6, {"already_subscribed": 1})
    subscribed = db.session.execute(
        select(func.count()).select_from(Subscription).where(Subscription.list_id == target.id)
    ).scalar_one()
    assert subscribed == 6
    events = _events_of(target)
    assert sorted(events) == sorted({*rows}) and all(len(ids) == 1 for ids in events.values())
    assert verify_chain().ok


def test_addresses_repeated_across_many_batches_are_written_once_in_file_order(
    auth, worker, lists, monkeypatch
):
    target, other = lists
    assert _import(auth, worker, other, [f"k{n}@example.com" for n in range(12)]).added == 12
    monkeypatch.setattr(imports, "BATCH_ROWS", 4)
    # 15 batches of 4: each repeats the address new in the batch before and a person known before the import
    rows: list[str] = []
    for batch in range(15):
        rows += [f"n{batch - 1}@example.com" if batch else "k11@example.com", f"k{batch % 12}@example.com"]
        rows += [f"n{batch}@example.com", f"m{batch}@example.com"]
    first_seen: dict[str, int] = {}
    for line, address in enumerate(rows):
        first_seen.setdefault(address, line // 4)

    job = _import(auth, worker, target, rows)

    assert job.status == "done", job.error
    assert job.processed_rows == 60 and job.added == len(first_seen)
    assert job.skipped == {"already_subscribed": 60 - len(first_seen)}
    people = db.session.execute(select(func.count()).select_from(Contact)).scalar_one()
    assert people == 12 + len([a for a in first_seen if not a.startswith("k")])
    events = _events_of(target)
    assert set(events) == set(first_seen) and all(len(ids) == 1 for ids in events.values())
    # a batch's events come after the events of every batch before it (batches commit in file order)
    by_batch = sorted(first_seen, key=lambda address: events[address][0])
    assert [first_seen[address] for address in by_batch] == sorted(first_seen.values())
    assert verify_chain().ok
