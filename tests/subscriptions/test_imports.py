"""The CSV import written in batches: the mapping of columns, typed values checked row by row with a report
of the rejected rows, the same outcomes as subscribe(), and concurrent imports that keep the chain whole."""

import csv
import io
import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from mailer.consent.ledger import verify_chain
from mailer.consent.models import ConsentEvent
from mailer.contacts import fields as field_service
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.fields import ContactFieldValue
from mailer.contacts.models.imports import ContactImport
from mailer.core.extensions import db
from mailer.subscriptions import imports
from mailer.subscriptions.lists import archive_list
from mailer.subscriptions.models.lists import MailingList, Subscription

STATEMENT = "Paper sign-up sheets at the 2025 trade fair, archived in the Berlin office."


@pytest.fixture
def demo_list(demo_form):
    return db.session.execute(select(MailingList)).scalar_one()


@pytest.fixture
def typed_fields(app_ctx):
    made = {
        "city": field_service.define_field("city", "City", "ordinary"),
        "visits": field_service.define_field("visits", "Visits", "ordinary", value_type="number"),
        "member_since": field_service.define_field(
            "member_since", "Member since", "ordinary", value_type="date"
        ),
        "health": field_service.define_field("health", "Health", "sensitive"),
    }
    db.session.commit()
    return made


def _create(demo_list, data: bytes, mode="has_consent"):
    job = imports.create_import(
        imports.ImportRequest("people.csv", io.BytesIO(data), demo_list, mode, STATEMENT), staff_id=None
    )
    db.session.commit()
    return job


def _run(job, mapping):
    imports.confirm_mapping(job, mapping, queue=False)
    db.session.commit()
    imports.run_import(job.id)
    db.session.expire_all()
    return db.session.get(ContactImport, job.id)


def _report(job) -> list[list[str]]:
    with open(imports.report_path(job), encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_the_mapping_is_proposed_and_unknown_columns_are_never_dropped_silently(demo_list, typed_fields):
    job = _create(demo_list, b"E-Mail;Vorname;City;Visits;Health;Shoe size\na@example.com;Ann;Oslo;3;x;41\n")
    assert job.status == "mapping" and job.total_rows == 1
    assert job.layout["columns"] == ["E-Mail", "Vorname", "City", "Visits", "Health", "Shoe size"]
    # Known names are mapped; a sensitive field is never offered (a file carries no explicit consent).
    assert job.layout["mapping"] == ["email", "", "field:city", "field:visits", "", ""]
    assert "field:health" not in dict(imports.mapping_choices())
    assert imports.preview(job) == [["a@example.com", "Ann", "Oslo", "3", "x", "41"]]
    with pytest.raises(imports.ImportRefusedError, match="“Vorname”, “Health”, “Shoe size”"):
        imports.confirm_mapping(job, job.layout["mapping"], queue=False)
    with pytest.raises(imports.ImportRefusedError, match="does not exist"):
        imports.confirm_mapping(job, ["email", "first_name", "field:health", "ignore", "ignore", "ignore"])
    with pytest.raises(imports.ImportRefusedError, match="only one column"):
        imports.confirm_mapping(job, ["email", "name", "name", "ignore", "ignore", "ignore"])
    with pytest.raises(imports.ImportRefusedError, match="exactly one column"):
        imports.confirm_mapping(job, ["ignore", "name", "ignore", "ignore", "ignore", "ignore"])
    db.session.rollback()
    done = _run(job, ["email", "first_name", "field:city", "field:visits", "ignore", "ignore"])
    assert (done.status, done.added) == ("done", 1)
    ann = db.session.execute(select(Contact).where(Contact.email == "a@example.com")).scalar_one()
    assert ann.name == "Ann"
    assert field_service.has_value(ann, typed_fields["city"]) and field_service.has_value(
        ann, typed_fields["visits"]
    )


def test_bad_rows_are_rejected_with_reasons_in_a_downloadable_report(demo_list, typed_fields):
    data = (
        b"email,name,visits,member_since,city\n"
        b"ann@example.com,Ann,3,2020-01-31,Oslo\n"
        b"not-an-address,Nobody,1,2020-01-01,Rome\n"
        b"bob@example.com,Bob,many,2020-01-01,=HYPERLINK(1)\n"
        b"cat@example.com,Cat,2,31/01/2020,Paris\n"
        b"dan@example.com,Dan\x00,2,2020-01-01,Bonn\n"
        b"\n"
        b"eve@example.com,Eve,,,\n"
        b"ANN@example.com,Ann again,9,2021-01-01,Lima\n"
    )
    job = _create(demo_list, data)
    assert job.total_rows == 7  # the blank line is not a row
    done = _run(job, ["email", "name", "field:visits", "field:member_since", "field:city"])
    assert (done.status, done.processed_rows, done.added) == ("done", 7, 2)
    assert done.skipped == {
        "invalid_address": 1,
        "invalid_value": 2,
        "invalid_name": 1,
        "already_subscribed": 1,
    }
    report = _report(done)
    assert report[0] == ["line", "reason", "email", "name", "visits", "member_since", "city"]
    assert [row[:2] for row in report[1:]] == [
        ["3", "not a valid email address"],
        ["4", "“Visits” must be a number, like 42 or 3.5."],
        ["5", "“Member since” must be a date written as YYYY-MM-DD, like 1990-04-23."],
        ["6", "the name contains control characters (such as NUL or ESC)"],
    ]
    assert report[2][6] == "'=HYPERLINK(1)"  # a spreadsheet shows the cell, never runs it
    added = set(db.session.execute(select(Contact.email)).scalars())
    assert added == {"ann@example.com", "eve@example.com"}
    ann = db.session.execute(select(Contact).where(Contact.email == "ann@example.com")).scalar_one()
    values = dict(
        db.session.execute(
            select(ContactFieldValue.field_id, ContactFieldValue.value).where(
                ContactFieldValue.contact_id == ann.id
            )
        ).all()
    )
    # The file's first row for Ann decides; the repeated address fills nothing and is counted as already in.
    assert values == {
        typed_fields["visits"].id: "3",
        typed_fields["member_since"].id: "2020-01-31",
        typed_fields["city"].id: "Oslo",
    }
    typed = db.session.execute(
        select(ContactFieldValue.number_value, ContactFieldValue.date_value).where(
            ContactFieldValue.contact_id == ann.id,
            ContactFieldValue.field_id.in_([typed_fields["visits"].id, typed_fields["member_since"].id]),
        )
    ).all()
    assert {value for row in typed for value in row if value is not None} == {3.0, date(2020, 1, 31)}
    assert imports.progress(done)["rejected"] == 4


@pytest.mark.parametrize("remembered", [imports.MEMO_CELLS, 1])
def test_a_repeated_cell_gets_the_same_check_every_time(demo_list, typed_fields, monkeypatch, remembered):
    # The worker remembers each column's checked cell texts (a city repeats on most rows); with room for one
    # text only, later texts are checked anew. Either way every row gets its own outcome and report line.
    monkeypatch.setattr(imports, "MEMO_CELLS", remembered)
    rows = [
        ("a", "3", "Oslo"),
        ("b", "many", "Oslo"),
        ("c", "3", " Oslo "),
        ("d", "many", "Rome"),
        ("e", "", "Oslo"),
        ("f", "3", ""),
    ]
    data = "email,visits,city\n" + "".join(f"{who}@example.com,{n},{city}\n" for who, n, city in rows)
    done = _run(_create(demo_list, data.encode()), ["email", "field:visits", "field:city"])
    assert (done.status, done.added, done.skipped) == ("done", 4, {"invalid_value": 2})
    assert [row[:2] for row in _report(done)[1:]] == [
        ["3", "“Visits” must be a number, like 42 or 3.5."],
        ["5", "“Visits” must be a number, like 42 or 3.5."],
    ]
    stored = db.session.execute(
        select(
            Contact.email, ContactFieldValue.field_id, ContactFieldValue.value, ContactFieldValue.number_value
        )
        .join(ContactFieldValue, ContactFieldValue.contact_id == Contact.id)
        .order_by(Contact.email, ContactFieldValue.field_id)
    ).all()
    visits, city = typed_fields["visits"].id, typed_fields["city"].id
    assert sorted(stored) == sorted(
        [
            ("a@example.com", visits, "3", 3.0),
            ("a@example.com", city, "Oslo", None),
            ("c@example.com", visits, "3", 3.0),
            ("c@example.com", city, "Oslo", None),
            ("e@example.com", city, "Oslo", None),
            ("f@example.com", visits, "3", 3.0),
        ]
    )


def test_batches_give_the_outcomes_subscribe_gives(demo_list, monkeypatch):
    monkeypatch.setattr(imports, "BATCH_ROWS", 3)  # the repeated address lands in a later batch
    first = _run(
        _create(demo_list, b"email\nann@example.com\nbob@example.com\n", mode="double_opt_in"), ["email"]
    )
    assert (first.invited, first.added) == (2, 0)
    rows = "".join(f"p{n}@example.com\n" for n in range(5))
    again = _run(
        _create(demo_list, f"email\nann@example.com\n{rows}bob@example.com\nann@example.com\n".encode()),
        ["email"],
    )
    # Prior consent confirms people who were only invited, once; the second mention is already subscribed.
    assert (again.added, again.skipped) == (7, {"already_subscribed": 1})
    statuses = set(db.session.execute(select(Subscription.status)).scalars())
    assert statuses == {"confirmed"}
    events = db.session.execute(select(func.count()).select_from(ConsentEvent)).scalar_one()
    assert events == 2 + 7
    assert verify_chain().ok


def test_concurrent_imports_keep_the_chain_valid(app, demo_list, monkeypatch):
    monkeypatch.setattr(imports, "BATCH_ROWS", 40)  # many small batches, interleaved between the two imports
    shared = [f"both{n}@example.com" for n in range(60)]
    files = [
        [*(f"one{n}@example.com" for n in range(150)), *shared],
        [*shared, *(f"two{n}@example.com" for n in range(150))],
    ]
    jobs = []
    for addresses in files:
        job = _create(demo_list, ("email\n" + "\n".join(addresses) + "\n").encode())
        imports.confirm_mapping(job, ["email"], queue=False)
        db.session.commit()
        jobs.append(job.id)
    start = threading.Barrier(2)
    failures = []

    def run(job_id):
        with app.app_context():
            start.wait()
            try:
                imports.run_import(job_id)
            except Exception as exc:  # pragma: no cover - reported below
                failures.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(job_id,)) for job_id in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.session.expire_all()
    assert not failures
    done = [db.session.get(ContactImport, job_id) for job_id in jobs]
    assert [job.status for job in done] == ["done", "done"], [job.error for job in done]
    assert sum(job.added for job in done) == 360
    assert sum(job.skipped.get("already_subscribed", 0) for job in done) == 60
    assert db.session.execute(select(func.count()).select_from(Subscription)).scalar_one() == 360
    assert db.session.execute(select(func.count()).select_from(ConsentEvent)).scalar_one() == 360
    report = verify_chain()
    assert report.ok and report.checked == 360


def test_an_archived_list_takes_no_import(app, demo_list, auth):
    assert demo_list.name in auth.get("/admin/imports/new").text
    archive_list(demo_list)
    db.session.commit()
    with pytest.raises(imports.ImportRefusedError, match="is archived and takes nobody new"):
        _create(demo_list, b"email\nann@example.com\n")
    assert db.session.execute(select(ContactImport)).first() is None
    assert demo_list.name not in auth.get("/admin/imports/new").text  # not offered on the upload page
