"""CSV import: the admin page and the CLI, through the same consent rules as every other door."""

import io
import os

import pytest
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.consent.models import ConsentEvent
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.imports import ContactImport
from mailer.contacts.operations import email_hash
from mailer.contacts.suppression import suppress
from mailer.core.extensions import db
from mailer.delivery.models import OutboxMessage
from mailer.subscriptions import imports
from mailer.subscriptions.models.lists import MailingList, Subscription
from tests.support.http import csrf_token
from tests.support.imports import confirm_mapping, proposed_mapping, upload_and_map, upload_file

CSV = (
    b"email;name\n"
    b"ann@example.com;Ann\n"
    b"not-an-address;Nobody\n"
    b"gone@example.com;Gone\n"
    b"left@example.com;Left\n"
    b"Ann@Example.com;Ann again\n"
)


def upload(client, demo_list, data=CSV, mode="double_opt_in", statement="", filename="people.csv"):
    return upload_and_map(client, demo_list.id, data, mode, statement, filename)


@pytest.fixture
def demo_list(demo_form):
    return db.session.execute(select(MailingList)).scalar_one()


def _prepare_refusals(demo_list):
    suppress(email_hash("gone@example.com"), "unsubscribed")
    left = Contact(email="left@example.com", email_hash=email_hash("left@example.com"), attributes={})
    db.session.add(left)
    db.session.flush()
    db.session.add(Subscription(contact_id=left.id, list_id=demo_list.id, status="unsubscribed"))
    db.session.commit()


def test_double_opt_in_import_invites_and_respects_every_refusal(auth, demo_list, worker):
    _prepare_refusals(demo_list)
    response = upload(auth, demo_list)
    assert response.status_code == 302
    worker.drain()
    job = db.session.execute(select(ContactImport)).scalar_one()
    progress = auth.get(f"/admin/imports/{job.public_id}/progress").get_json()
    assert progress["status"] == "done" and progress["processed"] == 5 and progress["invited"] == 1
    # The status is named in the viewer's language, on the page and in the live progress (the code stays).
    italian = {"Accept-Language": "it"}
    live = auth.get(f"/admin/imports/{job.public_id}/progress", headers=italian).get_json()
    assert (live["status"], live["status_label"]) == ("done", "completato")
    shown = auth.get(f"/admin/imports/{job.public_id}", headers=italian).text
    assert '<strong data-field="status_label" data-status="done">completato</strong>' in shown
    assert ">completato</td>" in auth.get("/admin/imports", headers=italian).text
    assert progress["skipped"] == {
        "invalid_address": 1,
        "suppressed": 1,
        "unsubscribed": 1,
        "already_pending": 1,
    }
    ann = db.session.execute(select(Contact).where(Contact.email == "ann@example.com")).scalar_one()
    assert [s.status for s in ann.subscriptions] == ["pending"]  # only confirmed by the person
    [event] = db.session.execute(select(ConsentEvent).where(ConsentEvent.action == "requested")).scalars()
    assert event.source == f"import:{job.public_id}" and event.details["file"] == "people.csv"
    mails = db.session.execute(select(OutboxMessage)).scalars().all()
    assert [m.rcpt_to for m in mails] == ["ann@example.com"]
    assert db.session.execute(select(Contact).where(Contact.email == "gone@example.com")).first() is None
    page = auth.get(f"/admin/imports/{job.public_id}")
    assert "not a valid email address" in page.text and "line 3" in page.text
    assert job.data is None  # the uploaded file is not kept once processed


def test_prior_consent_needs_a_statement_which_becomes_the_proof(auth, demo_list, worker):
    refused = upload(auth, demo_list, mode="has_consent", statement="")
    assert refused.status_code == 400 and "Describe where and how" in refused.text
    assert db.session.execute(select(ContactImport)).first() is None
    statement = "Paper sign-up sheets at the 2025 trade fair, archived in the Berlin office."
    assert (
        upload(
            auth, demo_list, data=b"email\nbea@example.com\n", mode="has_consent", statement=statement
        ).status_code
        == 302
    )
    worker.drain()
    bea = db.session.execute(select(Contact).where(Contact.email == "bea@example.com")).scalar_one()
    assert [s.status for s in bea.subscriptions] == ["confirmed"]
    event = db.session.execute(select(ConsentEvent).where(ConsentEvent.contact_id == bea.id)).scalar_one()
    assert event.action == "granted" and event.details["statement"] == statement


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "Choose a CSV file"),
        (b"name,phone\nAnn,123\n", "one must be"),
        (b"email\n", "no contacts"),
        (b"\xff\xfe\x00\x01" * 10, "one must be"),
    ],
)
def test_unusable_files_are_refused_with_a_reason(auth, demo_list, data, message):
    response = upload(auth, demo_list, data=data)
    assert response.status_code == 400 and message in response.text
    assert db.session.execute(select(ContactImport)).first() is None


@pytest.mark.config(IMPORT_MAX_MB=1)  # the import's own limit (MAX_CONTENT_LENGTH is for every other request)
def test_oversized_upload_gets_a_friendly_413(auth, demo_list):
    data = b"email,name\n" + b"ann@example.com,Ann\n" * 60_000  # 1.1 MB
    response = upload(auth, demo_list, data=data)
    assert response.status_code == 413
    assert "The file is larger than 1 MB. Split it into smaller files" in response.text
    assert db.session.execute(select(ContactImport)).first() is None


def test_cli_import(runner, demo_list, tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes(b"email,name\ncli@example.com,Cli\n")
    result = runner.invoke(args=["import-contacts", str(path), "--list", "Demo newsletter"])
    assert result.exit_code == 0, result.output
    assert "1 invited" in result.output
    unknown = runner.invoke(args=["import-contacts", str(path), "--list", "No such list"])
    assert unknown.exit_code != 0 and "Choose the list" in unknown.output


def test_a_file_larger_than_the_old_256_kib_cap_is_imported(auth, demo_list, worker):
    notes = "n" * 1000
    rows = "".join(f"person{i}@example.com,Person {i},{notes}\n" for i in range(400))
    data = f"email,name,notes\n{rows}".encode()
    assert len(data) > 384 * 1024
    response = upload(auth, demo_list, data=data)
    assert response.status_code == 302, response.text[:500]
    worker.drain()
    job = db.session.execute(select(ContactImport)).scalar_one()
    assert (job.status, job.total_rows, job.invited) == ("done", 400, 400)


def test_other_admin_forms_keep_the_small_request_limit(auth, demo_list):
    page = auth.get("/admin/lists/new")
    response = auth.post(
        "/admin/lists/new",
        data={
            "csrf_token": csrf_token(page.text),
            "name": "Big",
            "description": "d" * 400_000,
            "visibility": "public",
        },
    )
    assert response.status_code == 413 and "What you sent is too large." in response.text


def test_the_mapping_step_shows_the_first_rows_and_wants_a_choice_for_every_column(auth, demo_list, worker):
    data = b"email,name,shoe size\nann@example.com,Ann,41\nbad-address,Bob,43\n"
    uploaded = upload_file(auth, demo_list.id, data)
    assert uploaded.status_code == 302 and uploaded.location.endswith("/mapping")
    page = auth.get(uploaded.location)
    assert "Not recognised: <strong>shoe size</strong>" in page.text and "ann@example.com" in page.text
    assert proposed_mapping(page.text) == {"column-0": "email", "column-1": "name", "column-2": ""}
    refused = auth.post(
        uploaded.location,
        data={"csrf_token": csrf_token(page.text), "column-0": "email", "column-1": "name", "column-2": ""},
    )
    assert (
        refused.status_code == 400
        and "Choose a field for each column, or “Ignore”: “shoe size”" in refused.text
    )
    job = db.session.execute(select(ContactImport)).scalar_one()
    assert job.status == "mapping"  # nothing imported yet
    assert auth.get(f"/admin/imports/{job.public_id}").location.endswith("/mapping")
    queued = confirm_mapping(auth, uploaded.location, unknown="ignore")
    assert queued.status_code == 302
    worker.drain()
    db.session.expire_all()
    assert (job.status, job.invited, job.skipped) == ("done", 1, {"invalid_address": 1})
    audit = db.session.execute(select(AuditEvent).where(AuditEvent.action == "contacts.import")).scalar_one()
    assert audit.details["mapping"] == {"email": "email", "name": "name", "shoe size": "ignore"}
    shown = auth.get(f"/admin/imports/{job.public_id}").text
    assert "Download the rejected rows" in shown
    report = auth.get(f"/admin/imports/{job.public_id}/rejected.csv")
    assert report.status_code == 200 and report.mimetype == "text/csv"
    assert report.text.splitlines() == [
        "line,reason,email,name,shoe size",
        "3,not a valid email address,bad-address,Bob,43",
    ]
    assert (
        db.session.execute(select(AuditEvent).where(AuditEvent.action == "contacts.import_report"))
        .scalar_one()
        .target_id
        == job.public_id
    )


def test_an_import_waiting_for_its_mapping_can_be_cancelled(auth, demo_list):
    uploaded = upload_file(auth, demo_list.id, b"email\nann@example.com\n")
    job = db.session.execute(select(ContactImport)).scalar_one()
    assert os.path.exists(imports.upload_path(job))
    page = auth.get(uploaded.location)
    cancel_form = page.text.split('action="/admin/imports/')[1]
    response = auth.post(
        f"/admin/imports/{job.public_id}/cancel", data={"csrf_token": csrf_token(cancel_form)}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert job.status == "failed" and "Cancelled" in job.error
    assert not os.path.exists(imports.upload_path(job))
    assert auth.get(f"/admin/imports/{job.public_id}/rejected.csv").status_code == 404


@pytest.mark.config(IMPORT_MAX_MB=1)
def test_the_import_limit_is_checked_while_the_file_is_stored(app_ctx, demo_list):
    before = set(os.listdir(imports.import_dir()))
    big = io.BytesIO(b"email\n" + b"ann@example.com\n" * 70_000)  # 1.1 MB
    request = imports.ImportRequest("big.csv", big, demo_list, "double_opt_in")
    with pytest.raises(imports.ImportRefusedError, match="larger than 1 MB"):
        imports.create_import(request, staff_id=None)
    db.session.rollback()
    assert set(os.listdir(imports.import_dir())) == before  # the partial copy is removed
