"""Every CSV the product writes shows a formula-like value as text (OWASP CSV injection): a spreadsheet
opening the file must not run `=HYPERLINK(...)` typed into a sign-up form, a list name or a staff address."""

import csv
import io
import re
import zipfile

from mailer.contacts import fields as field_service
from mailer.core.extensions import db
from mailer.core.spreadsheet import safe_cell
from mailer.staff.accounts import create_staff
from tests.public.test_privacy_self_service import _request_and_verify
from tests.support.http import csrf_token, login
from tests.support.privacy import sign_up_and_confirm

FORMULA = '=HYPERLINK("http://x","y")'
PASSWORD = "correct horse battery"


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_safe_cell_follows_owasp():
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert safe_cell(start + "1+2") == "'" + start + "1+2"
    assert safe_cell("Ann = Bob") == "Ann = Bob" and safe_cell("") == "" and safe_cell(None) is None
    assert safe_cell(-3) == -3  # a number stays a number


def test_access_export_csv_files_neutralise_a_formula_name_and_field(app, client, demo_form, worker):
    ann = sign_up_and_confirm(
        app,
        client,
        worker,
        "ann@example.org",
        FORMULA,
        ip="203.0.113.5",
        user_agent="AnnBrowser/1.0",
        confirm_ip="203.0.113.6",
        confirm_user_agent="AnnPhone/2.0",
    )
    field_service.set_value(
        ann, field_service.define_field("company", "Company", "ordinary"), "@SUM(1+1)*cmd|' /C calc'!A0"
    )
    db.session.commit()
    done = _request_and_verify(app, client, worker, ann, "access", address="ann@example.org")
    download = re.search(r'href="(/privacy/download/[^"]+)"', done.text).group(1)
    archive = zipfile.ZipFile(io.BytesIO(client.get(download).data))

    profile = _rows(archive.read("csv/profile.csv").decode())
    name = profile[1][profile[0].index("name")]
    assert name == "'" + FORMULA  # shown as text, the data otherwise intact
    fields = archive.read("csv/fields.csv").decode()
    assert "'@SUM(1+1)" in fields and not re.search(r"(^|,)\"?[=+\-@]", fields, re.M)
    for member in archive.namelist():
        if member.endswith(".csv"):
            for row in _rows(archive.read(member).decode()):
                assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for cell in row), (member, row)


def test_art30_csv_neutralises_a_formula_list_name(app_ctx, client):
    create_staff("owner@example.com", PASSWORD, "owner")
    db.session.commit()
    login(client, "owner@example.com", PASSWORD)
    token = csrf_token(client.get("/admin/lists/new").text)
    created = client.post(
        "/admin/lists/new",
        data={"csrf_token": token, "name": FORMULA, "description": "-1+1", "visibility": "public"},
    )
    assert created.status_code == 302, created.text
    rows = _rows(client.get("/admin/settings/ropa.csv").text)
    activity = next(row for row in rows if FORMULA in row[0])
    assert activity[0] == "'" + FORMULA and activity[1] == "'-1+1"


def test_audit_csv_neutralises_a_formula_like_staff_address(app_ctx, client):
    create_staff("owner@example.com", PASSWORD, "owner")
    create_staff("=1+2@example.com", PASSWORD, "admin")
    db.session.commit()
    login(client, "=1+2@example.com", PASSWORD)
    token = csrf_token(client.get("/admin/lists/new").text)
    client.post(
        "/admin/lists/new",
        data={"csrf_token": token, "name": "Audited", "description": "", "visibility": "public"},
    )
    client.post("/admin/staff", data={"csrf_token": token, "email": "new@example.com", "role": "viewer"})
    exported = client.get("/admin/audit.csv")
    assert exported.status_code == 200
    rows = _rows(exported.text)
    actors = {row[2] for row in rows[1:]}
    assert "'=1+2@example.com" in actors and "=1+2@example.com" not in actors
