"""CSV imports through the API: upload (multipart or a text/csv body), the columns with a preview and a
suggested mapping, the mapping step with the admin's refusals, progress, the error report, the listing; the
same service (and the same consent rules) as the admin's import pages."""

import csv
import io

import pytest
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.consent.models import ConsentEvent
from mailer.contacts.fields import define_field
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.imports import ContactImport
from mailer.core.extensions import db
from mailer.subscriptions.models.lists import MailingList

CSV = (
    b"email;name;Plan;Shoe size;Age\n"
    b"ann@example.com;Ann;Pro;38;41\n"
    b"not-an-address;Nobody;Free;40;30\n"
    b"bea@example.com;Bea;Free;39;forty\n"
    b"cem@example.com;Cem;Pro;44;52\n"
)
STATEMENT = "Paper sign-up sheets at the 2025 trade fair, archived in the Berlin office."


@pytest.fixture
def news(demo_form):
    define_field("plan", "Plan", "ordinary")
    define_field("age", "Age", "ordinary", value_type="number")
    db.session.commit()
    return db.session.execute(select(MailingList)).scalar_one()


def _multipart(api, data, **settings):
    return api.post(
        "/imports",
        json=None,
        data={"file": (io.BytesIO(data), "people.csv"), **settings},
        content_type="multipart/form-data",
    )


def _no_import_made():
    return db.session.execute(select(ContactImport)).first() is None


def test_upload_reports_columns_preview_and_unknown_columns_then_imports_with_a_report(api, news, worker):
    answer = _multipart(api, CSV, list_id=news.public_id, mode="has_consent", consent_statement=STATEMENT)
    assert answer.status_code == 201, answer.json
    job = answer.json
    assert job["status"] == "mapping" and job["total_rows"] == 4 and job["list_id"] == news.public_id
    assert job["columns"] == [
        {"name": "email", "target": "email"},
        {"name": "name", "target": "name"},
        {"name": "Plan", "target": "field:plan"},
        {"name": "Shoe size", "target": None},
        {"name": "Age", "target": "field:age"},
    ]
    assert job["unknown_columns"] == ["Shoe size"]  # reported, never dropped without a choice
    assert job["preview"][0] == ["ann@example.com", "Ann", "Pro", "38", "41"] and len(job["preview"]) == 4
    assert {"value": "ignore", "label": "Ignore this column (not imported)"} in job["targets"]

    # Starting with the suggestion as it is: the unknown column still needs a choice.
    suggested = [column["target"] or "" for column in job["columns"]]
    refused = api.post(f"/imports/{job['id']}/mapping", json={"mapping": suggested})
    assert refused.status_code == 422
    assert refused.json["detail"] == {"mapping": "Choose a field for each column, or “Ignore”: “Shoe size”."}
    assert api.get(f"/imports/{job['id']}").json["status"] == "mapping"  # nothing half-written

    mapping = ["email", "name", "field:plan", "ignore", "field:age"]
    started = api.post(f"/imports/{job['id']}/mapping", json={"mapping": mapping})
    assert started.status_code == 202 and started.json["status"] == "queued"
    worker.drain()

    done = api.get(f"/imports/{job['id']}").json
    assert (done["status"], done["processed_rows"], done["percent"], done["added"]) == ("done", 4, 100, 2)
    assert done["skipped"] == {"invalid_address": 1, "invalid_value": 1} and done["rejected"] == 2
    assert [error["line"] for error in done["row_errors"]] == [3, 4]
    assert done["has_report"] is True and "preview" not in done
    ann = db.session.execute(select(Contact).where(Contact.email == "ann@example.com")).scalar_one()
    assert [s.status for s in ann.subscriptions] == ["confirmed"]
    granted = db.session.execute(select(ConsentEvent).where(ConsentEvent.contact_id == ann.id)).scalar_one()
    assert granted.details["statement"] == STATEMENT and granted.source == f"import:{job['id']}"

    report = api.get(f"/imports/{job['id']}/rejected.csv")
    assert report.status_code == 200 and report.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(report.get_data(as_text=True))))
    assert rows[0] == ["line", "reason", "email", "name", "Plan", "Shoe size", "Age"]
    assert [row[0] for row in rows[1:]] == ["3", "4"]
    assert rows[1][2] == "not-an-address" and "Age" in rows[2][1] and rows[2][6] == "forty"

    events = {
        event.action: event
        for event in db.session.execute(
            select(AuditEvent).where(AuditEvent.target_type == "import")
        ).scalars()
    }
    assert events["contacts.import"].details["mapping"]["Shoe size"] == "ignore"
    assert events["contacts.import"].details["via"] == "api"
    assert events["contacts.import"].actor_id is not None  # the staff member who made the key
    assert events["contacts.import_report"].details["rows"] == 2
    listed = api.get("/imports").json
    assert [item["id"] for item in listed["data"]] == [job["id"]] and listed["next_cursor"] is None


def test_a_raw_text_csv_body_with_settings_in_the_query_invites_by_double_opt_in(api, news, worker):
    answer = api.post(
        f"/imports?list_id={news.public_id}&mode=double_opt_in",
        json=None,
        data=b"e-mail,Full name\ndia@example.com,Dia\n",
        content_type="text/csv",
    )
    assert answer.status_code == 201, answer.json
    assert [column["target"] for column in answer.json["columns"]] == ["email", "name"]
    assert answer.json["filename"] == "upload.csv"
    started = api.post(f"/imports/{answer.json['id']}/mapping", json={"mapping": ["email", "name"]})
    assert started.status_code == 202
    worker.drain()
    done = api.get(f"/imports/{answer.json['id']}").json
    assert (done["status"], done["invited"], done["has_report"]) == ("done", 1, False)
    dia = db.session.execute(select(Contact).where(Contact.email == "dia@example.com")).scalar_one()
    assert dia.name == "Dia" and [s.status for s in dia.subscriptions] == ["pending"]
    assert api.get(f"/imports/{answer.json['id']}/rejected.csv").status_code == 404


@pytest.mark.parametrize(
    "data, settings, field, message",
    [
        (b"name,phone\nAnn,123\n", {}, "file", "one must be “email”"),
        (b"email\n", {}, "file", "no contacts"),
        (b"", {}, "file", "Choose a CSV file"),
        (b"\xff\xfe\x00\x01" * 10, {}, "file", "one must be"),
        (b'email\n"' + b"a" * 140_000 + b"\n", {}, "file", "not valid CSV"),
        (CSV, {"list_id": "nosuchlist"}, "list_id", "there is no list with this id"),
        (CSV, {"list_id": None}, "list_id", "Choose the list"),
        (CSV, {"mode": "has_consent", "consent_statement": "yes"}, "consent_statement", "Describe where"),
        (CSV, {"mode": "whatever"}, "mode", "must be one of"),
    ],
)
def test_bad_files_and_settings_are_refused_with_the_reason_and_nothing_kept(
    api, news, data, settings, field, message
):
    given = {"list_id": news.public_id, "mode": "double_opt_in", **settings}
    answer = _multipart(api, data, **{k: v for k, v in given.items() if v is not None})
    assert answer.status_code == 422, answer.json
    assert message in answer.json["detail"][field]
    assert _no_import_made()


def test_wrong_mappings_are_refused_one_by_one(api, news):
    job = _multipart(api, CSV, list_id=news.public_id).json
    path = f"/imports/{job['id']}/mapping"
    cases = [
        (["email", "name"], "Choose what to do with every column."),
        (["email", "name", "field:plan", "ignore", "field:shoe"], "A chosen field does not exist"),
        (["name", "email", "email", "ignore", "ignore"], "Map exactly one column to “Email address”."),
        (["email", "name", "name", "ignore", "ignore"], "Each field can take only one column"),
    ]
    for mapping, message in cases:
        answer = api.post(path, json={"mapping": mapping})
        assert answer.status_code == 422 and message in answer.json["detail"]["mapping"], answer.json
    assert api.post(path, json={"mapping": "email"}).status_code == 422  # not a list
    assert (
        api.post(path, json={"mapping": ["email", "name", "field:plan", "ignore", "field:age"]}).status_code
        == 202
    )
    again = api.post(path, json={"mapping": ["email", "name", "field:plan", "ignore", "field:age"]})
    assert again.status_code == 409 and "no longer waiting" in again.json["error"]


def test_a_sensitive_field_cannot_be_filled_from_a_file(api, news):
    define_field("health", "Health", "sensitive")
    db.session.commit()
    job = _multipart(api, b"email,health\nann@example.com,x\n", list_id=news.public_id).json
    assert job["unknown_columns"] == ["health"]
    assert "field:health" not in [target["value"] for target in job["targets"]]
    answer = api.post(f"/imports/{job['id']}/mapping", json={"mapping": ["email", "field:health"]})
    assert answer.status_code == 422 and "does not exist" in answer.json["detail"]["mapping"]


@pytest.mark.config(IMPORT_MAX_MB=1)
def test_an_oversized_file_is_refused_with_413_both_ways(api, news):
    data = b"email,name\n" + b"ann@example.com,Ann\n" * 60_000  # 1.1 MB
    answer = _multipart(api, data, list_id=news.public_id)
    assert answer.status_code == 413 and answer.json["error"]
    raw = api.post(f"/imports?list_id={news.public_id}", json=None, data=data, content_type="text/csv")
    assert raw.status_code == 413 and answer.json["error"]
    assert _no_import_made()


def test_other_bodies_are_refused_and_read_only_keys_may_not_import(api, read_api, news):
    answer = api.post("/imports", json={"list_id": news.public_id})
    assert answer.status_code == 415 and "text/csv" in answer.json["error"]
    refused = _multipart(read_api, CSV, list_id=news.public_id)
    assert refused.status_code == 403
    job = _multipart(api, CSV, list_id=news.public_id).json
    assert read_api.get(f"/imports/{job['id']}").status_code == 200  # reading progress is fine
    assert read_api.post(f"/imports/{job['id']}/mapping", json={"mapping": []}).status_code == 403
    assert api.get("/imports/nosuchimport").status_code == 404


def test_the_error_report_needs_a_read_and_write_key(api, read_api, news, worker):
    job = _multipart(api, b"email\nnot-an-address\nann@example.com\n", list_id=news.public_id).json
    api.post(f"/imports/{job['id']}/mapping", json={"mapping": ["email"]})
    worker.drain()
    refused = read_api.get(f"/imports/{job['id']}/rejected.csv")
    assert refused.status_code == 403 and "read-and-write" in refused.json["error"]
    assert (
        db.session.execute(select(AuditEvent).where(AuditEvent.action == "contacts.import_report")).first()
        is None
    )
    assert api.get(f"/imports/{job['id']}/rejected.csv").status_code == 200


def test_an_import_waiting_for_its_mapping_can_be_cancelled(api, news):
    job = _multipart(api, CSV, list_id=news.public_id).json
    cancelled = api.post(f"/imports/{job['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json["status"] == "failed"
    assert cancelled.json["error"] == "Cancelled before it started." and cancelled.json["can_cancel"] is False
    again = api.post(f"/imports/{job['id']}/cancel")
    assert again.status_code == 409
    assert api.post(f"/imports/{job['id']}/resume").status_code == 409


def test_a_repeated_upload_with_its_idempotency_key_makes_one_import(api, news):
    headers = {"Idempotency-Key": "import-1"}
    first = api.post(
        f"/imports?list_id={news.public_id}", json=None, data=CSV, content_type="text/csv", headers=headers
    )
    again = api.post(
        f"/imports?list_id={news.public_id}", json=None, data=CSV, content_type="text/csv", headers=headers
    )
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true" and again.json["id"] == first.json["id"]
    other = api.post(
        f"/imports?list_id={news.public_id}",
        json=None,
        data=CSV + b"x@example.com;X;;;\n",
        content_type="text/csv",
        headers=headers,
    )
    assert other.status_code == 422 and other.json["detail"]["reason"] == "idempotency_key_reused"
    assert len(db.session.execute(select(ContactImport)).all()) == 1
