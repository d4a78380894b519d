"""An import stopped by a fault keeps every committed batch whole and nothing of the batch in flight; staff
resume it from the import's page and every row ends up applied exactly once (contacts, subscriptions, values,
ledger events, the error report). Staff can also cancel an import while it runs: it stops after the batch in
flight."""

import csv
import os
from datetime import datetime

import pytest
from sqlalchemy import func, select, text

from mailer.audit.models import AuditEvent
from mailer.consent.ledger import verify_chain
from mailer.consent.models import ConsentEvent
from mailer.contacts import fields as field_service
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.fields import ContactFieldValue
from mailer.contacts.models.imports import ContactImport
from mailer.core.extensions import db
from mailer.subscriptions import import_batch as batch_module
from mailer.subscriptions import imports
from mailer.subscriptions.models.lists import MailingList, Subscription
from tests.delivery.test_worker_crash import _kill, _worker_process
from tests.support.campaigns import wait_for
from tests.support.http import csrf_token
from tests.support.imports import upload_and_map

STATEMENT = "Paper sign-up sheets at the 2025 trade fair, archived in the Berlin office."
# 12 rows in batches of 4: two bad addresses (lines 4 and 11), one in the first batch and one in the last.
ROWS = [
    "p0@example.com,Oslo",
    "p1@example.com,Rome",
    "not-an-address,Lima",
    "p2@example.com,Bonn",
    "p3@example.com,Kyiv",
    "p4@example.com,Riga",
    "p5@example.com,Oslo",
    "p6@example.com,Rome",
    "p7@example.com,Lima",
    "bob@,Bonn",
    "p8@example.com,Kyiv",
    "p9@example.com,Riga",
]
CSV = ("email,city\n" + "\n".join(ROWS) + "\n").encode()


@pytest.fixture
def demo_list(demo_form):
    field_service.define_field("city", "City", "ordinary")
    db.session.commit()
    return db.session.execute(select(MailingList)).scalar_one()


def _count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def _job() -> ContactImport:
    db.session.expire_all()
    return db.session.execute(select(ContactImport)).scalar_one()


def _post(auth, job, action: str):
    page = auth.get(f"/admin/imports/{job.public_id}")
    return auth.post(f"/admin/imports/{job.public_id}/{action}", data={"csrf_token": csrf_token(page.text)})


def _report_lines(job) -> list[str]:
    with open(imports.report_path(job), encoding="utf-8", newline="") as handle:
        return [record[0] for record in list(csv.reader(handle))[1:]]


def _failing_on(call: int, monkeypatch):
    """import_batch that writes its batch and then raises on its `call`-th call (so the batch's rows are in
    the transaction when it fails)."""
    real = batch_module.import_batch
    calls = []

    def flaky(connection, target, rows, *order):
        calls.append(len(rows))
        out = real(connection, target, rows, *order)
        # the batch's place in the file: its lane's turn when batches are written at once (PostgreSQL)
        if (order[0].batch + 1 if order and hasattr(order[0], "batch") else len(calls)) == call:
            raise RuntimeError("database connection lost")
        return out

    monkeypatch.setattr(imports, "import_batch", flaky)
    return calls


def _cancel_during_the_first_batch(monkeypatch) -> list[int]:
    """import_batch during whose first batch staff press Cancel (the status set with the batch's rows, so
    it is seen once the batch commits); returns the batches that started, by their place in the file."""
    real = batch_module.import_batch
    started: list[int] = []

    def cancelled_meanwhile(connection, target, rows, *order):
        batch = order[0].batch if order and hasattr(order[0], "batch") else len(started)
        started.append(batch)
        out = real(connection, target, rows, *order)
        if batch == 0:
            connection.execute(text("UPDATE contact_imports SET status = 'cancelling'"))
        return out

    monkeypatch.setattr(imports, "import_batch", cancelled_meanwhile)
    return started


def test_a_fault_mid_import_keeps_whole_batches_and_resuming_applies_each_row_once(
    auth, demo_list, worker, monkeypatch
):
    monkeypatch.setattr(imports, "BATCH_ROWS", 4)
    _failing_on(2, monkeypatch)
    assert upload_and_map(auth, demo_list.id, CSV, "has_consent", STATEMENT).status_code == 302
    worker.drain()

    job = _job()
    assert job.status == "failed" and "database connection lost" in job.error
    # The first batch (3 addresses, 1 rejected) is committed whole; nothing of the second is left.
    assert (job.processed_rows, job.added, job.skipped) == (4, 3, {"invalid_address": 1})
    assert _count(Contact) == _count(Subscription) == _count(ContactFieldValue) == _count(ConsentEvent) == 3
    assert _report_lines(job) == ["4"]
    assert verify_chain().ok
    page = auth.get(f"/admin/imports/{job.public_id}")
    assert "The import stopped: RuntimeError: database connection lost" in page.text
    assert "Resume after the 4 rows already done" in page.text

    monkeypatch.undo()
    monkeypatch.setattr(imports, "BATCH_ROWS", 4)
    response = _post(auth, job, "resume")
    assert response.status_code == 302
    worker.drain()

    job = _job()
    assert job.status == "done" and job.error == ""
    assert (job.processed_rows, job.added, job.skipped) == (12, 10, {"invalid_address": 2})
    # Each row exactly once: one contact, subscription, value and ledger event per good address.
    emails = db.session.execute(select(Contact.email).order_by(Contact.email)).scalars().all()
    assert emails == sorted(f"p{n}@example.com" for n in range(10))
    assert _count(Subscription) == _count(ContactFieldValue) == _count(ConsentEvent) == 10
    per_contact = db.session.execute(
        select(func.count()).select_from(ConsentEvent).group_by(ConsentEvent.contact_id)
    ).scalars()
    assert set(per_contact) == {1}
    assert _report_lines(job) == ["4", "11"]
    report = verify_chain()
    assert report.ok and report.checked == 10
    assert not os.path.exists(imports.upload_path(job))  # done: the file is gone
    actions = db.session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars().all()
    assert "contacts.import_resume" in actions
    page = auth.get(f"/admin/imports/{job.public_id}")
    assert "Resume after" not in page.text and "Cancel the import" not in page.text
    # The rate shown is the resumed run's: 8 rows since it was resumed (from row 4), not 12.
    assert job.layout["resumed_at_row"] == 4
    job.started_at, job.finished_at = datetime(2026, 1, 1, 12, 0, 0), datetime(2026, 1, 1, 12, 0, 2)
    assert imports.progress(job)["rate"] == 4


def test_a_finished_import_cannot_be_resumed_or_cancelled(auth, demo_list, worker):
    assert upload_and_map(auth, demo_list.id, CSV, "has_consent", STATEMENT).status_code == 302
    worker.drain()
    job = _job()
    assert job.status == "done" and job.added == 10
    response = _post(auth, job, "resume")
    assert response.status_code == 409
    assert "Only an import stopped by a fault, with its file still here, can be resumed." in response.text
    response = _post(auth, job, "cancel")
    assert response.status_code == 409
    assert "This import has finished: there is nothing left to cancel." in response.text
    assert _job().status == "done" and _count(ConsentEvent) == 10


@pytest.mark.config(IMPORT_LANES=1)  # one batch after the other; batches written at once: the test below
def test_a_running_import_cancelled_stops_after_the_batch_in_flight(auth, demo_list, worker, monkeypatch):
    monkeypatch.setattr(imports, "BATCH_ROWS", 4)
    _cancel_during_the_first_batch(monkeypatch)
    assert upload_and_map(auth, demo_list.id, CSV, "has_consent", STATEMENT).status_code == 302
    worker.drain()

    job = _job()
    assert job.status == "cancelled"
    assert job.error == "Cancelled after 4 of 12 rows; the rows before stay imported."
    assert (job.processed_rows, job.added) == (4, 3)
    assert _count(Contact) == _count(ConsentEvent) == 3
    assert not os.path.exists(imports.upload_path(job))
    assert verify_chain().ok
    page = auth.get(f"/admin/imports/{job.public_id}")
    assert "Cancelled after 4 of 12 rows" in page.text and "Resume after" not in page.text
    # Its report (line 4) is kept like a finished import's, and goes with them after the retention period.
    assert _report_lines(job) == ["4"]
    job.finished_at = datetime(2020, 1, 1)
    db.session.commit()
    assert imports.purge_import_files(30) == 1
    assert not os.path.exists(imports.report_path(job))


@pytest.mark.postgres_only
def test_with_batches_written_at_once_a_cancel_stops_after_the_batches_in_flight(
    auth, demo_list, worker, monkeypatch
):
    # Two lanes (the default on PostgreSQL): while the first batch is written the second may already be on
    # its way. Staff cancel during the first; whatever was in flight commits whole, in file order, nothing
    # after it starts, and the page says how many rows stayed.
    monkeypatch.setattr(imports, "BATCH_ROWS", 4)
    seen = _cancel_during_the_first_batch(monkeypatch)
    assert upload_and_map(auth, demo_list.id, CSV, "has_consent", STATEMENT).status_code == 302
    worker.drain()

    job = _job()
    assert job.status == "cancelled" and 2 not in seen  # the third batch never started
    done = {1: (4, 3), 2: (8, 7)}[len(seen)]  # rows, of which good addresses (line 4 is not one)
    assert (job.processed_rows, job.added) == done
    assert job.error == f"Cancelled after {done[0]} of 12 rows; the rows before stay imported."
    assert _count(Contact) == _count(Subscription) == _count(ConsentEvent) == done[1]
    emails = db.session.execute(select(Contact.email)).scalars().all()
    assert sorted(emails) == [f"p{n}@example.com" for n in range(done[1])]  # the file's first rows
    assert _report_lines(job) == ["4"]
    assert verify_chain().ok


def test_a_stopped_import_can_be_cancelled_instead_of_resumed(auth, demo_list, worker, monkeypatch):
    monkeypatch.setattr(imports, "BATCH_ROWS", 4)
    _failing_on(1, monkeypatch)
    assert upload_and_map(auth, demo_list.id, CSV, "has_consent", STATEMENT).status_code == 302
    worker.drain()
    job = _job()
    assert job.status == "failed" and job.processed_rows == 0 and _count(Contact) == 0
    assert not os.path.exists(imports.report_path(job))  # the lost batch's rejected row went with it
    response = _post(auth, job, "cancel")
    assert response.status_code == 302
    assert "Import cancelled; the rows imported so far stay" in auth.get(response.location).text
    job = _job()
    assert job.status == "cancelled" and not os.path.exists(imports.upload_path(job))
    assert not imports.can_resume(job)
    actions = db.session.execute(select(AuditEvent.action)).scalars().all()
    assert "contacts.import_cancel" in actions


def test_a_worker_killed_mid_import_leaves_whole_batches_and_a_new_worker_finishes_it(
    app, auth, backend, demo_list, smtp_server, tmp_path, monkeypatch
):
    if backend == "sqlite":
        pytest.skip("embedded mode has no separate worker process: its in-memory broker lives inside the app")
    people = 3000
    data = "email,city\n" + "".join(f"k{n}@example.com,Oslo\n" for n in range(people))
    # The worker process reads its settings from the environment: the same import folder, small batches.
    monkeypatch.setenv("IMPORT_DIR", app.config["IMPORT_DIR"])
    monkeypatch.setenv("IMPORT_BATCH_ROWS", "100")
    assert upload_and_map(auth, demo_list.id, data.encode(), "has_consent", STATEMENT).status_code == 302
    job = _job()

    first = _worker_process(app, smtp_server, tmp_path / "worker1.log")
    try:
        wait_for(lambda: _job().processed_rows >= 500, timeout=120, what="the import to be under way")
    finally:
        _kill(first)  # SIGKILL, between or inside a batch
    job = _job()
    assert job.status == "running" and 0 < job.processed_rows < people
    # Only whole batches: exactly the counted rows are in, with their events; nothing of the batch in flight.
    assert job.processed_rows % 100 == 0
    assert _count(Contact) == _count(Subscription) == _count(ConsentEvent) == job.processed_rows
    assert verify_chain().ok
    # The dead worker's lock went with its connection: staff see the import can be resumed.
    wait_for(lambda: imports.can_resume(_job()), timeout=30, what="the dead worker's lock to go")
    assert "Resume after the" in auth.get(f"/admin/imports/{job.public_id}").text
    assert _post(auth, job, "resume").status_code == 302

    second = _worker_process(app, smtp_server, tmp_path / "worker2.log")
    try:
        wait_for(lambda: _job().status == "done", timeout=180, what="the resumed import to finish")
    finally:
        _kill(second)
    job = _job()
    assert (job.processed_rows, job.added) == (people, people)
    assert _count(Contact) == _count(Subscription) == _count(ContactFieldValue) == people
    per_contact = db.session.execute(
        select(func.count()).select_from(ConsentEvent).group_by(ConsentEvent.contact_id)
    ).scalars()
    assert set(per_contact) == {1}
    report = verify_chain()
    assert report.ok and report.checked == people
