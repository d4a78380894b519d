"""Benchmark of the API's CSV export and import upload on PostgreSQL: memory stays flat, against the service
itself as the baseline, in the same run.

In a fresh PostgreSQL database (created and dropped by the run) with --contacts confirmed subscribers of one
list (written by COPY, as bench/audience_seed.py does):
  export   baseline: the service's csv_chunks() iterated in-process (what the admin's Export page streams);
           current: POST /api/v1/lists/{id}/export through the WSGI app, the answer read chunk by chunk.
  upload   a --rows CSV file; baseline: the service's create_import() reading the file from disk; current:
           POST /api/v1/imports with the file as a text/csv body, and as a multipart part.
Each is measured for wall time and Python's peak traced memory (tracemalloc, on for every path alike), beside
the size of the file, so "memory stays flat" is a number: the peak is a small fraction of the file.

    .venv/bin/python bench/api_data.py [--contacts 200000] [--rows 200000]

Last line: `api_data: export_rows=<n> export_mb=<MB> baseline_peak_mb=<MB> api_peak_mb=<MB> export_s=<s/s>
upload_mb=<MB> upload_peak_mb=<baseline/raw/multipart MB> upload_s=<baseline/raw/multipart s>`.
"""

import argparse
import os
import sys
import tempfile
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from flask_migrate import upgrade
from sqlalchemy import select, text

from bench.audience_seed import _copy_contacts
from mailer import create_app, demo
from mailer.core.extensions import db
from mailer.privacy.audience_export import Audience, csv_chunks
from mailer.staff.accounts import create_staff
from mailer.staff.api_keys import create_key
from mailer.subscriptions import imports
from mailer.subscriptions.models.lists import MailingList
from tests.support.db import create_postgres_database, drop_postgres_database

REASON = "Benchmark of the API export: memory and time."
MB = 1024 * 1024


def _measured(run):
    """(result, seconds, peak traced MB) of run()."""
    tracemalloc.start()
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / MB
    tracemalloc.stop()
    return result, seconds, peak


def _seed(n: int, mailing_list: MailingList) -> None:
    _copy_contacts(n, "import:bench")
    db.session.execute(
        text(
            "INSERT INTO subscriptions (contact_id, list_id, status, source, created_at, requested_at, "
            "confirmed_at) SELECT c.id, :l, 'confirmed', c.source, c.created_at, c.created_at, c.created_at "
            "FROM contacts c WHERE c.source = 'import:bench' ORDER BY c.id"
        ),
        {"l": mailing_list.id},
    )
    db.session.commit()


def _service_export(mailing_list: MailingList) -> int:
    size = 0
    for chunk in csv_chunks(Audience(mailing_list=mailing_list)):
        size += len(chunk.encode())
    return size


def _api_export(app, key: str, list_id: str) -> int:
    client = app.test_client()
    response = client.post(
        f"/api/v1/lists/{list_id}/export",
        json={"reason": REASON},
        headers={"Authorization": f"Bearer {key}"},
        buffered=False,
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    size = sum(len(chunk) for chunk in response.response)
    response.close()
    return size


def _upload(app, key: str, list_id: str, path: str, how: str) -> str:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    with open(path, "rb") as handle:
        if how == "raw":
            response = client.post(
                f"/api/v1/imports?list_id={list_id}",
                input_stream=handle,
                content_type="text/csv",
                content_length=os.path.getsize(path),
                headers=headers,
            )
        else:
            response = client.post(
                "/api/v1/imports",
                data={"file": (handle, "people.csv"), "list_id": list_id},
                content_type="multipart/form-data",
                headers=headers,
            )
    assert response.status_code == 201, response.get_data(as_text=True)[:300]
    return response.get_json()["id"]


def _service_upload(mailing_list: MailingList, owner_id: int, path: str) -> str:
    with open(path, "rb") as handle:
        job = imports.create_import(
            imports.ImportRequest("people.csv", handle, mailing_list, "double_opt_in"), owner_id
        )
    db.session.commit()
    return job.public_id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument(
        "--server", default=os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    args = parser.parse_args()
    name = f"api_data_bench_{os.getpid()}"
    url = create_postgres_database(args.server, name)
    workdir = tempfile.mkdtemp(prefix="api-data-bench-")
    app = create_app(
        {
            "MAILER_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": url,
            "IMPORT_DIR": os.path.join(workdir, "imports"),
            "API_RATE_LIMIT": "1000000 per minute",
        }
    )
    try:
        with app.app_context():
            upgrade()
            demo.seed_demo()
            owner = create_staff("owner@example.com", "correct horse battery", "owner")
            _, key = create_key("Bench", "read_write", owner)
            db.session.commit()
            mailing_list = db.session.execute(select(MailingList)).scalar_one()
            started = time.perf_counter()
            _seed(args.contacts, mailing_list)
            print(f"seed contacts={args.contacts:,} time={time.perf_counter() - started:.1f}s", flush=True)
            list_id, owner_id = mailing_list.public_id, owner.id

            base_size, base_s, base_peak = _measured(lambda: _service_export(mailing_list))
            db.session.remove()
        api_size, api_s, api_peak = _measured(lambda: _api_export(app, key, list_id))
        print(
            f"export rows={args.contacts:,} file={api_size / MB:.1f}MB baseline(service)="
            f"{base_s:.1f}s peak={base_peak:.1f}MB api={api_s:.1f}s peak={api_peak:.1f}MB "
            f"(sizes equal: {abs(api_size - base_size) < 1000})",
            flush=True,
        )

        path = os.path.join(workdir, "people.csv")
        with open(path, "w", encoding="utf-8") as out:
            out.write("email,name\n")
            out.writelines(f"upload{n}@example.com,Person {n}\n" for n in range(args.rows))
        upload_mb = os.path.getsize(path) / MB
        with app.app_context():
            mailing_list = db.session.get(
                MailingList, db.session.execute(select(MailingList.id)).scalar_one()
            )
            _, up_base_s, up_base_peak = _measured(lambda: _service_upload(mailing_list, owner_id, path))
            db.session.remove()
        _, raw_s, raw_peak = _measured(lambda: _upload(app, key, list_id, path, "raw"))
        _, multi_s, multi_peak = _measured(lambda: _upload(app, key, list_id, path, "multipart"))
        print(
            f"upload rows={args.rows:,} file={upload_mb:.1f}MB baseline(service)={up_base_s:.1f}s "
            f"peak={up_base_peak:.1f}MB raw={raw_s:.1f}s peak={raw_peak:.1f}MB "
            f"multipart={multi_s:.1f}s peak={multi_peak:.1f}MB",
            flush=True,
        )
        print(
            f"api_data: export_rows={args.contacts} export_mb={api_size / MB:.1f} "
            f"baseline_peak_mb={base_peak:.1f} api_peak_mb={api_peak:.1f} "
            f"export_s={base_s:.1f}/{api_s:.1f} upload_mb={upload_mb:.1f} "
            f"upload_peak_mb={up_base_peak:.1f}/{raw_peak:.1f}/{multi_peak:.1f} "
            f"upload_s={up_base_s:.1f}/{raw_s:.1f}/{multi_s:.1f}"
        )
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop_postgres_database(args.server, name)


if __name__ == "__main__":
    main()
