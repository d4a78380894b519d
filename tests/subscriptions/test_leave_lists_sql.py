"""Leaving a list, one rule: PostgreSQL's leave_lists function (mailer/subscriptions/sql) and the Python rule
(the group path, leaving.leave_lists, and the request path, withdrawal.withdraw_list) give the same
outcomes, subscription rows, consent states and ledger events on the same inputs, and every event's hash is
the one the ledger's Python definition recomputes. SQLite compares the two Python paths; PostgreSQL all
three."""

import itertools
from dataclasses import dataclass

import pytest
from sqlalchemy import JSON, DateTime, select, text

from mailer.consent import chain
from mailer.consent.ledger import RequestContext, record_consent
from mailer.consent.models import ConsentEvent
from mailer.consent.notices import (
    PRIVACY_NOTICE_KEY,
    latest_notice,
    privacy_notice_in_force,
    privacy_notice_key,
    publish_notice,
)
from mailer.contacts.models.contact import Contact
from mailer.contacts.operations import get_or_create_contact
from mailer.core.extensions import db
from mailer.privacy.erasure import anonymise_contact
from mailer.subscriptions.leaving import ListJob, leave_lists, leave_lists_pg
from mailer.subscriptions.lists import create_list
from mailer.subscriptions.models.lists import MailingList, Subscription
from mailer.subscriptions.withdrawal import withdraw_list

SIGNUP = RequestContext("form", ip="192.0.2.1", user_agent="SignupBrowser/1.0")
LEAVE = RequestContext("one-click-unsubscribe", "2001:db8::1", 'UA "x" \\ — ✉ \u2028 <script>')


@dataclass
class Person:
    """A case: the person's starting state on the lists, and the lists their links ask to leave."""

    email: str
    subscriptions: dict[str, str]  # list name -> subscription status
    consents: dict[str, str]  # list name -> ledger action that set the current consent
    leaves: tuple[str, ...]
    status: str = "active"
    language: str | None = None  # the notice in force is the one of the person's language, else English's


# The table of cases, with the outcome each link gets (one per entry of `leaves`).
CASES = {
    "confirmed and granted": (
        Person("a@example.com", {"News": "confirmed"}, {"News": "confirmed"}, ("News",)),
        ["done"],
    ),
    "pending sign-up": (
        Person("b@example.com", {"News": "pending"}, {"News": "requested"}, ("News",)),
        ["done"],
    ),
    "already left": (
        Person("c@example.com", {"News": "unsubscribed"}, {"News": "withdrawn"}, ("News",)),
        ["already"],
    ),
    "a list never joined": (
        Person("d@example.com", {"Offers": "confirmed"}, {"Offers": "confirmed"}, ("News",)),
        ["already"],
    ),
    "consent without a subscription": (Person("e@example.com", {}, {"News": "granted"}, ("News",)), ["done"]),
    "objected, still subscribed": (
        Person("f@example.com", {"News": "confirmed"}, {"News": "objected"}, ("News",)),
        ["done"],
    ),
    "subscribed without consent state": (
        Person("g@example.com", {"News": "confirmed"}, {}, ("News",)),
        ["done"],
    ),
    "expired consent, pending": (
        Person("h@example.com", {"News": "pending"}, {"News": "expired"}, ("News",)),
        ["done"],
    ),
    "restricted contact": (
        Person("i@example.com", {"News": "confirmed"}, {"News": "confirmed"}, ("News",), "restricted"),
        ["done"],
    ),
    "erased contact": (
        Person("j@example.com", {"News": "confirmed"}, {"News": "confirmed"}, ("News",), "erased"),
        ["invalid"],
    ),
    "leaving every list": (
        Person(
            "zoë.o'neil+ünï@exämple.com",
            {"News": "confirmed", "Offers": "pending", "Bare": "confirmed"},
            {"News": "confirmed", "Offers": "requested"},
            ("News", "Offers", "Bare"),
        ),
        ["done", "done", "done"],
    ),
    "the same link twice": (
        Person("k@example.com", {"News": "confirmed"}, {"News": "confirmed"}, ("News", "News")),
        ["done", "already"],
    ),
    "a list without a purpose": (Person("l@example.com", {"Bare": "confirmed"}, {}, ("Bare",)), ["done"]),
    "an Italian reader": (
        Person("n@example.com", {"News": "confirmed"}, {"News": "confirmed"}, ("News",), language="it"),
        ["done"],
    ),
    "a German reader (no German notice yet)": (
        Person("o@example.com", {"News": "confirmed"}, {"News": "confirmed"}, ("News",), language="de"),
        ["done"],
    ),
    "a list that is gone": (
        Person("m@example.com", {"News": "confirmed"}, {"News": "confirmed"}, ("Gone",)),
        ["recheck"],
    ),
}


def _seed() -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """Every case's starting state, committed; returns case -> (contact public id, [(list public id,
    name)])."""
    lists = {name: create_list(name) for name in ("News", "Offers")}
    lists["Bare"] = MailingList(name="Bare")  # made before lists had purposes: leaving it withdraws nothing
    db.session.add(lists["Bare"])
    publish_notice(PRIVACY_NOTICE_KEY, {"text": "How we use your data."})
    publish_notice(privacy_notice_key("it"), {"text": "Come usiamo i Suoi dati."})
    db.session.flush()
    seeded = {}
    for case, (person, _) in CASES.items():
        contact, _ = get_or_create_contact(person.email, source="form")
        for name, status in person.subscriptions.items():
            db.session.add(Subscription(contact_id=contact.id, list_id=lists[name].id, status=status))
        for name, action in person.consents.items():
            if action != "requested":
                record_consent(contact, lists[name].purpose, "requested", SIGNUP)
            record_consent(contact, lists[name].purpose, action, SIGNUP)
        if person.status == "erased":
            anonymise_contact(contact)
        contact.status, contact.language = person.status, person.language
        targets = [(lists[n].public_id if n in lists else "gone0000000000000000", n) for n in person.leaves]
        seeded[case] = (contact.public_id, targets)
    db.session.commit()
    return seeded


def _typed(statement: str):
    """A snapshot query whose timestamps and JSON come back as Python values on every backend."""
    return text(statement).columns(created_at=DateTime(), details=JSON())


def _jobs(seeded) -> list[ListJob]:
    return [
        ListJob(contact, list_public_id, "campaign000000000000", LEAVE)
        for contact, targets in seeded.values()
        for list_public_id, _ in targets
    ]


def _outcomes(seeded, jobs: list[ListJob]) -> dict[str, list[str | None]]:
    found = iter(jobs)
    return {case: [next(found).status for _ in targets] for case, (_, targets) in seeded.items()}


def _state(run, first_new_event: int) -> dict:
    """What a path left behind, in terms that do not depend on the order or time it wrote in."""
    events = run(
        "SELECT contact_id, purpose_id, action, source, notice_id, email, ip, user_agent, details "
        f"FROM consent_events WHERE id >= {first_new_event}"
    )
    return {
        "subscriptions": sorted(
            run("SELECT contact_id, list_id, status, unsubscribed_at IS NOT NULL FROM subscriptions")
        ),
        "consent states": sorted(run("SELECT contact_id, purpose_id, status FROM consent_states")),
        "events": sorted((*tuple(row[:8]), sorted(row[8].items())) for row in events),
        # the counters the database keeps from these rows (core/counters.py), netted per key
        "subscribers per list": sorted(
            run("SELECT list_id, status, sum(n) FROM subscription_counts GROUP BY 1, 2 HAVING sum(n) <> 0")
        ),
        "consent coverage": sorted(
            run(
                "SELECT list_id, purpose_id, sum(n) FROM list_consent_counts GROUP BY 1, 2 HAVING sum(n) <> 0"
            )
        ),
        "events per action": sorted(
            run(
                "SELECT action, purpose_id, sum(n) FROM consent_event_counts GROUP BY 1, 2 HAVING sum(n) <> 0"
            )
        ),
        "coverage recounted": sorted(
            run(
                "SELECT s.list_id, c.purpose_id, count(*) FROM subscriptions s JOIN consent_states c "
                "ON c.contact_id = s.contact_id WHERE s.status = 'confirmed' AND c.status = 'granted' "
                "GROUP BY 1, 2"
            )
        ),
    }


def _assert_chain_is_the_python_one(run, first_new_event: int) -> None:
    """Every new event's digest and hash are what the Python definition computes from its stored fields; each
    links to its predecessor and the head names the last."""
    columns = ", ".join((*chain.EVENT_HASH_FIELDS, "pii_salt", "email", "ip", "user_agent", "hash"))
    rows = run(f"SELECT {columns} FROM consent_events WHERE id >= {first_new_event - 1} ORDER BY id")
    names = (*chain.EVENT_HASH_FIELDS, "pii_salt", "email", "ip", "user_agent", "hash")
    events = [dict(zip(names, row, strict=True)) for row in rows]
    for earlier, event in itertools.pairwise(events):
        assert event["prev_hash"] == earlier["hash"]
        assert event["pii_digest"] == chain.pii_digest(
            event["pii_salt"], event["email"], event["ip"], event["user_agent"]
        )
        assert event["hash"] == chain.event_hash(event)
    assert run("SELECT last_hash FROM ledger_head") == [(events[-1]["hash"],)]


def _python_group(seeded, first_new_event):
    """The group path (Core statements), as SQLite runs every group, in a transaction rolled back
    afterwards."""
    jobs = _jobs(seeded)
    with db.engine.connect() as connection:
        transaction = connection.begin()
        leave_lists(connection, jobs)

        def run(statement):
            return [tuple(row) for row in connection.execute(_typed(statement))]

        _assert_chain_is_the_python_one(run, first_new_event)
        state = _state(run, first_new_event)
        transaction.rollback()
    return _outcomes(seeded, jobs), state


def _python_request(seeded, first_new_event):
    """The request path (ORM), one link after another as separate requests would apply them, rolled back."""
    jobs = _jobs(seeded)
    for job in jobs:
        contact = db.session.execute(
            select(Contact).where(Contact.public_id == job.contact_public_id)
        ).scalar_one()
        mailing_list = db.session.execute(
            select(MailingList).where(MailingList.public_id == job.list_public_id)
        ).scalar_one_or_none()
        if mailing_list is None:
            job.status = "recheck"
        elif contact.status == "erased":
            job.status = "invalid"
        else:
            details = {"list": job.list_public_id, "campaign": job.campaign_public_id}
            notice = privacy_notice_in_force(contact.language)
            changed = withdraw_list(contact, mailing_list, job.ctx, details, notice=notice)
            job.status = "done" if changed else "already"
    db.session.flush()
    connection = db.session.connection()

    def run(statement):
        return [tuple(row) for row in connection.execute(_typed(statement))]

    _assert_chain_is_the_python_one(run, first_new_event)
    state = _state(run, first_new_event)
    db.session.rollback()
    return _outcomes(seeded, jobs), state


def _postgresql_function(seeded, first_new_event):
    """The leave_lists function in one statement, in a transaction rolled back afterwards."""
    jobs = _jobs(seeded)
    raw = db.engine.raw_connection()
    try:
        driver = raw.driver_connection
        leave_lists_pg(driver, jobs)

        def run(statement):
            return [tuple(row) for row in driver.execute(statement).fetchall()]

        _assert_chain_is_the_python_one(run, first_new_event)
        state = _state(run, first_new_event)
        driver.rollback()
    finally:
        raw.close()
    return _outcomes(seeded, jobs), state


def test_every_way_of_leaving_a_list_applies_the_same_rule(app_ctx):
    seeded = _seed()
    first_new_event = db.session.execute(select(db.func.max(ConsentEvent.id))).scalar_one() + 1
    expected = {case: outcomes for case, (_, outcomes) in CASES.items()}
    paths = {"group (Python)": _python_group, "request (Python)": _python_request}
    if db.engine.dialect.name == "postgresql":
        paths["leave_lists (PostgreSQL)"] = _postgresql_function
    results = {name: path(seeded, first_new_event) for name, path in paths.items()}
    reference_outcomes, reference_state = results["group (Python)"]
    assert reference_outcomes == expected
    assert reference_state["consent coverage"], "the cases leave confirmed subscribers with consent to count"
    assert (
        len(reference_state["events"]) == 11
    )  # one "withdrawn" per consent that was granted, pending or expired
    italian = db.session.execute(
        select(Contact.id).where(Contact.email_hash.is_not(None), Contact.language == "it")
    ).scalar_one()
    notices = {event[0]: event[4] for event in reference_state["events"]}
    english_notice = latest_notice(PRIVACY_NOTICE_KEY)
    assert english_notice is not None
    assert notices[italian] == latest_notice(privacy_notice_key("it")).id != english_notice.id
    assert {notice for contact, notice in notices.items() if contact != italian} == {english_notice.id}
    for name, (outcomes, state) in results.items():
        assert outcomes == expected, name
        assert state == reference_state, name
        assert state["consent coverage"] == state["coverage recounted"], name


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_each_version_of_the_function_is_a_file_beside_the_rule(version):
    """The migration that creates a version reads its file; the files stay in the package."""
    from importlib.resources import files

    source = files("mailer.subscriptions").joinpath(f"sql/leave_lists_v{version}.sql").read_text()
    assert "CREATE OR REPLACE FUNCTION leave_lists(jobs json, notice_key text, ended_at timestamp)" in source
