"""PostgreSQL's COPY path and SQLite's multi-row path of the CSV import give the same rows and the same
ledger: one scenario with every outcome (new, invited then confirmed, already in, left the list, objected,
suppressed, restricted, repeated in a batch and across batches, rejected), compared with one expected
snapshot on whichever backend the suite runs (the suite runs it on both)."""

import io

import pytest
from sqlalchemy import select

from mailer.consent.ledger import RequestContext, record_consent, verify_chain
from mailer.consent.models import ConsentEvent, ConsentState, Purpose
from mailer.contacts import fields as field_service
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.fields import ContactField, ContactFieldValue
from mailer.contacts.models.imports import ContactImport
from mailer.contacts.models.suppression import Suppression
from mailer.contacts.operations import email_hash, get_or_create_contact
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.subscriptions import import_batch, imports
from mailer.subscriptions.models.lists import MailingList, Subscription
from mailer.subscriptions.operations import Basis

STATEMENT = "Paper sign-up sheets at the 2025 trade fair, archived in the Berlin office."


def _import(mailing_list, text: str, mode: str) -> ContactImport:
    job = imports.create_import(
        imports.ImportRequest("people.csv", io.BytesIO(text.encode()), mailing_list, mode, STATEMENT), None
    )
    db.session.commit()
    imports.confirm_mapping(job, ["email", "name", "field:city", "field:visits"], queue=False)
    db.session.commit()
    imports.run_import(job.id)
    db.session.expire_all()
    return db.session.get(ContactImport, job.id)


def _snapshot() -> dict:
    """Everything the imports wrote, without ids, random public ids and times."""
    email = {contact.id: contact.email for contact in db.session.execute(select(Contact)).scalars()}
    purpose = {p.id: p.key.split(":")[0] for p in db.session.execute(select(Purpose)).scalars()}
    field = {f.id: f.key for f in db.session.execute(select(ContactField)).scalars()}
    events = db.session.execute(select(ConsentEvent).order_by(ConsentEvent.id)).scalars().all()
    action_of = {event.id: event.action for event in events}
    return {
        "contacts": sorted(
            (c.email, c.name, c.status, c.source) for c in db.session.execute(select(Contact)).scalars()
        ),
        "subscriptions": sorted(
            (email[s.contact_id], s.status, s.confirmed_at is not None, s.unsubscribed_at is not None)
            for s in db.session.execute(select(Subscription)).scalars()
        ),
        "values": sorted(
            (email[v.contact_id], field[v.field_id], v.value, v.number_value)
            for v in db.session.execute(select(ContactFieldValue)).scalars()
        ),
        "ledger": [
            (
                email[e.contact_id],
                purpose.get(e.purpose_id),
                e.action,
                e.source.split(":")[0],
                sorted(key for key in e.details or {}),
                e.details.get("lifts") if e.details else None,
            )
            for e in events
        ],
        "states": sorted(
            (email[s.contact_id], purpose[s.purpose_id], s.status, action_of[s.event_id])
            for s in db.session.execute(select(ConsentState)).scalars()
        ),
    }


@pytest.fixture
def scenario(demo_form):
    """A list, two custom fields and contacts in every state an import meets."""
    mailing_list = db.session.execute(select(MailingList)).scalar_one()
    field_service.define_field("city", "City", "ordinary")
    field_service.define_field("visits", "Visits", "ordinary", value_type="number")
    db.session.commit()
    ctx = RequestContext("test")
    purpose = mailing_list.purpose
    contacts = {}
    for name in ("known", "already", "left", "objected", "restricted"):
        contacts[name], _ = get_or_create_contact(f"{name}@example.com", source="test")
    db.session.flush()
    for name, status in (("already", "confirmed"), ("left", "unsubscribed")):
        db.session.add(
            Subscription(contact=contacts[name], list_id=mailing_list.id, status=status, source="test")
        )
    record_consent(contacts["already"], purpose, "granted", ctx)
    record_consent(contacts["left"], purpose, "withdrawn", ctx)
    record_consent(contacts["objected"], purpose, "objected", ctx)
    field_service.set_value(contacts["already"], field_service.field_by_key("city"), "Rome")
    contacts["restricted"].status = "restricted"
    db.session.add(Suppression(email_hash=email_hash("gone@example.com"), reason="unsubscribed"))
    db.session.commit()
    return mailing_list


def test_both_paths_write_the_same_rows_and_the_same_ledger(scenario, monkeypatch):
    monkeypatch.setattr(imports, "BATCH_ROWS", 4)  # several batches; repeats inside and across them
    invited = _import(scenario, "email,name,city,visits\nnew1@example.com,New One,Oslo,1\n", "double_opt_in")
    assert (invited.status, invited.invited) == ("done", 1)
    done = _import(
        scenario,
        "email,name,city,visits\n"
        "new1@example.com,New Again,Lima,9\n"  # invited before: prior consent confirms
        "known@example.com,Known Person,Bonn,2\n"  # a contact without a name or a subscription
        "already@example.com,Already,Oslo,3\n"  # keeps Rome: an import fills empty values only
        "left@example.com,Left,Kyiv,4\n"  # left the list: only they can come back
        "objected@example.com,Objected,Riga,5\n"  # the import lifts the objection, recorded
        "GONE@example.com,Gone,Oslo,6\n"  # suppressed: never re-added
        "restricted@example.com,Restricted,Oslo,7\n"  # restricted: never touched
        "new2@example.com,New Two,Rome,\n"
        "new2@example.com,New Two Again,Lima,8\n"  # the same address twice in one batch
        "not-an-address,Nobody,Oslo,1\n"  # rejected
        "new3@example.com,,,\n"
        "new2@example.com,Third Time,Bonn,9\n",  # again, in a later batch
        "has_consent",
    )
    assert (done.status, done.processed_rows, done.added) == ("done", 12, 5)
    assert done.skipped == {
        "already_subscribed": 3,
        "unsubscribed": 1,
        "suppressed": 1,
        "restricted": 1,
        "invalid_address": 1,
    }
    assert verify_chain().ok
    assert _snapshot() == {
        "contacts": [
            ("already@example.com", "Already", "active", "test"),  # an empty name is filled
            ("known@example.com", "Known Person", "active", "test"),
            ("left@example.com", None, "active", "test"),
            ("new1@example.com", "New One", "active", f"import:{invited.public_id}"),
            ("new2@example.com", "New Two", "active", f"import:{done.public_id}"),
            ("new3@example.com", None, "active", f"import:{done.public_id}"),
            ("objected@example.com", "Objected", "active", "test"),
            ("restricted@example.com", None, "restricted", "test"),
        ],
        "subscriptions": [
            ("already@example.com", "confirmed", False, False),
            ("known@example.com", "confirmed", True, False),
            ("left@example.com", "unsubscribed", False, False),
            ("new1@example.com", "confirmed", True, False),
            ("new2@example.com", "confirmed", True, False),
            ("new3@example.com", "confirmed", True, False),
            ("objected@example.com", "confirmed", True, False),
        ],
        "values": [
            ("already@example.com", "city", "Rome", None),
            ("already@example.com", "visits", "3", 3.0),
            ("known@example.com", "city", "Bonn", None),
            ("known@example.com", "visits", "2", 2.0),
            ("new1@example.com", "city", "Oslo", None),
            ("new1@example.com", "visits", "1", 1.0),
            ("new2@example.com", "city", "Rome", None),
            ("new2@example.com", "visits", "8", 8.0),  # empty in its first row; the next batch fills it
            ("objected@example.com", "city", "Riga", None),
            ("objected@example.com", "visits", "5", 5.0),
        ],
        # In each batch the events go in address-hash order (one order for every writer).
        "ledger": [
            ("already@example.com", "list", "granted", "test", [], None),
            ("left@example.com", "list", "withdrawn", "test", [], None),
            ("objected@example.com", "list", "objected", "test", [], None),
            ("new1@example.com", "list", "requested", "import", ["file", "import"], None),
            ("new1@example.com", "list", "granted", "import", ["file", "import", "statement"], None),
            ("known@example.com", "list", "granted", "import", ["file", "import", "statement"], None),
            ("new2@example.com", "list", "granted", "import", ["file", "import", "statement"], None),
            (
                "objected@example.com",
                "list",
                "granted",
                "import",
                ["file", "import", "lifts", "statement"],
                "objection",
            ),
            ("new3@example.com", "list", "granted", "import", ["file", "import", "statement"], None),
        ],
        "states": [
            ("already@example.com", "list", "granted", "granted"),
            ("known@example.com", "list", "granted", "granted"),
            ("left@example.com", "list", "withdrawn", "withdrawn"),
            ("new1@example.com", "list", "granted", "granted"),
            ("new2@example.com", "list", "granted", "granted"),
            ("new3@example.com", "list", "granted", "granted"),
            ("objected@example.com", "list", "granted", "granted"),
        ],
    }


def _scans(plan: dict) -> list[dict]:
    """Every node of an EXPLAIN (FORMAT JSON) plan."""
    return [plan, *(node for child in plan.get("Plans", []) for node in _scans(child))]


def test_a_batch_looks_up_each_contact_and_never_reads_the_whole_list(scenario):
    # On PostgreSQL a list that grows during an import still looks empty to the planner (its statistics are
    # older than the import); reading the list's subscriptions for every batch, or for every contact, made
    # an import quadratic in the list's size. The lookup goes through the contact's own unique key.
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plan of the COPY path's lookup")
    target = import_batch.BatchTarget(
        scenario.id, scenario.purpose.id, Basis.PRIOR_CONSENT, RequestContext("import:test"), {}
    )
    rows = [
        {
            "email_hash": email_hash(f"p{n}@example.com"),
            "email": f"p{n}@example.com",
            "name": "",
            "public_id": f"id{n}",
        }
        for n in range(50)
    ]
    connection = db.session.connection()
    found, created = import_batch._add_contacts(connection, target, rows, utcnow())
    assert len(created) == 50 and all(not known.suppressed for known in found.values())
    statement = import_batch._joined(target, import_batch._staged, lateral=True)
    sql = str(statement.compile(connection, compile_kwargs={"literal_binds": True}))
    [[plan]] = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql).one()
    scans = [node for node in _scans(plan["Plan"]) if node.get("Relation Name") == "subscriptions"]
    assert scans  # one lookup, made for each contact: it names the contact, and no index is read by list
    for node in scans:
        assert "contact.id" in node.get("Index Cond", "") + node.get("Filter", ""), node
        assert (
            "list_id" not in node.get("Index Cond", "")
            and node.get("Index Name") != "ix_subscriptions_list_newest"
        )
    db.session.rollback()
