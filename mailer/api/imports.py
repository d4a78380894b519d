"""CSV imports of contacts through the API, as on the admin's import pages: upload, map the columns, start,
follow the progress, download the rejected rows, cancel or resume; the imports.

Every rule is mailer.subscriptions.imports' (the admin's pages call the same operations): the file is streamed
to IMPORT_DIR up to IMPORT_MAX_MB (as a multipart `file` part, or as the whole body with Content-Type
text/csv), its header must name an email column, and it waits for its mapping. The mapping gives every column
a target (`email`, `name`, `first_name`, `last_name`, `field:<key>` of an ordinary custom field, or `ignore`):
a column the app does not recognise is reported in `unknown_columns` and must be given one, it is never
dropped silently. The worker checks every value row by row; rejected rows are counted and written with their
reason to the error report (GET /imports/{id}/rejected.csv, audited as in the admin). Suppressed, restricted,
erased and list-unsubscribed people are never re-added. The import is recorded as made by the staff member
who created the API key, as bulk jobs are; no scope beyond a read-and-write key is needed (the same power as
POST /contacts and a bulk list_add, which need nothing more).
"""

from flask import current_app, g, request, send_file
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from mailer import audit
from mailer.api.errors import ApiError
from mailer.api.fields import RequestSchema, Text, TextList, page_of, public_id, timestamp
from mailer.api.inputs import PageQuery, invalid, paged
from mailer.api.routing import FileAnswer, Upload, api_route
from mailer.api.serializers import iso
from mailer.contacts.models.imports import IMPORT_MODES, ContactImport
from mailer.core.extensions import db
from mailer.staff.models.accounts import StaffUser
from mailer.subscriptions import imports
from mailer.subscriptions.models.lists import MailingList

MAX_COLUMNS = 500
MODE_HELP = (
    "double_opt_in (each person gets a confirmation email and is added once they confirm) or has_consent "
    "(they consented elsewhere: `consent_statement` says where and how, at least 20 characters, stored as "
    "the proof for each person)."
)
# The service's name for what a refusal is about -> the API's field.
REFUSED_FIELDS = {"list": "list_id", "mode": "mode", "statement": "consent_statement", "mapping": "mapping"}


class ImportSettings(RequestSchema):
    """The import's settings: text parts of a multipart body, or in the query string with a text/csv body."""

    list_id = Text(metadata={"description": "The list to import into (its public id)."})
    mode = Text(
        validate=validate.OneOf(IMPORT_MODES, error="must be one of " + ", ".join(IMPORT_MODES)),
        metadata={"description": MODE_HELP},
    )
    consent_statement = Text(
        multiline=True,
        max_length=5000,
        metadata={"description": "has_consent: where and how these people consented."},
    )


class ImportUpload(ImportSettings):
    """The CSV file as the `file` part (UTF-8 or Windows-1252; comma, semicolon or tab; at most
    IMPORT_MAX_MB), and the settings."""

    file = fields.Raw(
        load_only=True,
        metadata={"type": "string", "format": "binary", "description": "The CSV file."},
    )


class ImportMapping(RequestSchema):
    mapping = TextList(
        required=True,
        max_items=MAX_COLUMNS,
        metadata={
            "description": "One target per column, in the file's order: email, name, first_name, last_name, "
            "field:<key> (an ordinary custom field) or ignore. Exactly one column is the email."
        },
    )


class ColumnSchema(Schema):
    name = fields.String(metadata={"description": "The column's name on the file's first line."})
    target = fields.String(
        allow_none=True,
        metadata={
            "description": "While mapping: the suggested target (null when the app does not recognise the "
            "column: choose one). Afterwards: the chosen target."
        },
    )


class TargetSchema(Schema):
    value = fields.String()
    label = fields.String()


class RowErrorSchema(Schema):
    line = fields.Integer(metadata={"description": "The line in the file (the header is line 1)."})
    reason = fields.String()


class ImportSchema(Schema):
    id = public_id()
    status = fields.String(
        metadata={
            "description": "mapping (waiting for its mapping), queued, running, cancelling, done, failed, "
            "cancelled."
        }
    )
    filename = fields.String()
    list_id = fields.String(metadata={"description": "The list it imports into."})
    mode = fields.String(metadata={"description": MODE_HELP})
    columns = fields.List(fields.Nested(ColumnSchema))
    unknown_columns = fields.List(
        fields.String(),
        metadata={"description": "While mapping: columns the app does not recognise, which need a target."},
    )
    preview = fields.List(
        fields.List(fields.String()),
        metadata={"description": "While mapping: the file's first rows, cell by cell."},
    )
    targets = fields.List(
        fields.Nested(TargetSchema),
        metadata={"description": "While mapping: every target a column can be given."},
    )
    total_rows = fields.Integer()
    processed_rows = fields.Integer()
    percent = fields.Integer()
    rows_per_second = fields.Integer(metadata={"description": "Since the worker started (this run)."})
    seconds_left = fields.Integer(allow_none=True, metadata={"description": "About how long, while it runs."})
    added = fields.Integer(metadata={"description": "Added with consent obtained elsewhere."})
    invited = fields.Integer(metadata={"description": "Sent a confirmation email (double opt-in)."})
    skipped = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "Rows not imported, by reason: " + ", ".join(imports.SKIP_REASONS) + "."},
    )
    rejected = fields.Integer(
        metadata={"description": "Rows refused for a wrong value (in the error report)."}
    )
    row_errors = fields.List(
        fields.Nested(RowErrorSchema),
        metadata={"description": f"The first {imports.MAX_ROW_ERRORS} rejected rows; the report has all."},
    )
    has_report = fields.Boolean(metadata={"description": "GET /imports/{id}/rejected.csv has the rows."})
    can_cancel = fields.Boolean()
    can_resume = fields.Boolean()
    error = fields.String()
    created_at = timestamp()
    started_at = timestamp()
    finished_at = timestamp()


ImportPageSchema = page_of(ImportSchema, "ImportPage")
UPLOAD = Upload("file", ImportUpload, "IMPORT_MAX_MB", raw_types=("text/csv",))
REPORT = FileAnswer(
    "text/csv",
    "The rejected rows: line, reason, then the row's cells as they were (each cell safe to open in a "
    "spreadsheet).",
)


def import_json(job: ContactImport) -> dict:
    layout = job.layout or {}
    names: list[str] = layout.get("columns", [])
    targets: list[str] = layout.get("mapping", [""] * len(names))
    progress = imports.progress(job)
    data: dict = {
        "id": job.public_id,
        "status": job.status,
        "filename": job.filename,
        "list_id": job.mailing_list.public_id if job.mailing_list is not None else None,
        "mode": job.mode,
        "columns": [
            {"name": name, "target": target or None} for name, target in zip(names, targets, strict=False)
        ],
        "total_rows": job.total_rows,
        "processed_rows": job.processed_rows,
        "percent": progress["percent"],
        "rows_per_second": progress["rate"],
        "seconds_left": progress["seconds_left"],
        "added": job.added,
        "invited": job.invited,
        "skipped": dict(job.skipped or {}),
        "rejected": progress["rejected"],
        "row_errors": [{"line": line, "reason": reason} for line, reason in job.row_errors or []],
        "has_report": imports.has_report(job),
        "can_cancel": imports.can_cancel(job),
        "can_resume": imports.can_resume(job),
        "error": job.error or "",
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
    }
    if job.status == "mapping":
        data["unknown_columns"] = [
            name or f"column {n}"
            for n, (name, target) in enumerate(zip(names, targets, strict=False), 1)
            if not target
        ]
        data["preview"] = imports.preview(job)
        data["targets"] = [{"value": value, "label": label} for value, label in imports.mapping_choices()]
    return data


def _job(public_id: str) -> ContactImport:
    job = db.session.execute(
        select(ContactImport).where(ContactImport.public_id == public_id[:32])
    ).scalar_one_or_none()
    if job is None:
        raise ApiError(404, "There is no import with this id.", {"import_id": public_id[:64]})
    return job


def _via() -> dict:
    return {"via": "api", "api_key": g.api_key_prefix}


def _audit(job: ContactImport, action: str, details: dict) -> None:
    """An audit entry in the name of the staff member who created the key (as its bulk jobs are)."""
    creator_id = g.api_key.created_by_id
    actor = db.session.get(StaffUser, creator_id) if creator_id else None
    audit.record(action, "import", job.public_id, {**details, **_via()}, actor=actor, ip=request.remote_addr)


def _refused(exc: imports.ImportRefusedError) -> ApiError:
    if isinstance(exc, imports.ImportTooLargeError):
        return ApiError(413, str(exc), {"max_mb": _max_mb()})
    if exc.field == "status":
        return ApiError(409, str(exc))
    return invalid(REFUSED_FIELDS.get(exc.field, "file"), str(exc))


def _max_mb() -> int:
    return int(current_app.config["IMPORT_MAX_MB"])


@api_route("/imports", query=PageQuery, responses={200: ImportPageSchema}, operation_id="listImports")
def imports_index(query: dict):
    """Contact imports

    Oldest first, one page at a time, each with its progress.
    """
    return paged(query, select(ContactImport), ContactImport, ContactImport.public_id, import_json)


@api_route(
    "/imports",
    ("POST",),
    upload=UPLOAD,
    query=ImportSettings,
    responses={201: ImportSchema},
    errors={
        413: "The file is larger than IMPORT_MAX_MB (200 MB by default): split it.",
        415: "The body is neither multipart/form-data nor text/csv.",
        422: "A setting or the file can't be used (no list, an archived list, no consent statement for "
        "has_consent, not CSV, no email column, no rows); `detail` names list_id, mode, consent_statement or "
        "file.",
    },
    operation_id="uploadImport",
)
def import_upload(form: dict, file: FileStorage | None, query: dict):
    """Upload a CSV file to import

    `multipart/form-data` with the file as the `file` part and the settings as text parts, or the file as
    the whole body (`Content-Type: text/csv`) with the settings in the query string. The file is streamed
    to disk and read whole to count its rows; the answer (status `mapping`) lists its columns with a
    suggested target each, the `unknown_columns` that need one, the first rows (`preview`) and the
    `targets` to choose from. Nothing is imported until POST /imports/{id}/mapping.
    """
    if twice := sorted(set(form) & set(query)):
        raise invalid(twice[0], "given both in the query string and in the body: give it once")
    settings = {**query, **form}
    mailing_list = None
    if "list_id" in settings:
        mailing_list = db.session.execute(
            select(MailingList).where(
                MailingList.public_id == settings["list_id"], MailingList.deleted_at.is_(None)
            )
        ).scalar_one_or_none()
        if mailing_list is None:
            raise invalid("list_id", "there is no list with this id")
    req = imports.ImportRequest(
        filename=(file.filename if file is not None else "") or "upload.csv",
        source=file.stream if file is not None else None,
        mailing_list=mailing_list,
        mode=settings.get("mode", "double_opt_in"),
        consent_statement=settings.get("consent_statement", ""),
    )
    try:
        job = imports.create_import(req, g.api_key.created_by_id)
    except imports.ImportRefusedError as exc:
        db.session.rollback()
        raise _refused(exc) from None
    db.session.commit()
    return import_json(job), 201


@api_route("/imports/<public_id>", responses={200: ImportSchema}, operation_id="getImport")
def import_show(public_id: str):
    """One import: its columns, progress and outcome

    While it waits for its mapping (status `mapping`), with the preview and the targets; afterwards with rows
    done of the total, the rate, about how long is left, and the counts by outcome.
    """
    return import_json(_job(public_id))


@api_route(
    "/imports/<public_id>/mapping",
    ("POST",),
    body=ImportMapping,
    responses={202: ImportSchema},
    errors={
        409: "The import is no longer waiting for its mapping.",
        422: "The mapping is not complete or not valid (a column without a target, an unknown target, no "
        "email or two, one field for two columns); `detail.mapping` says which.",
    },
    operation_id="startImport",
)
def import_mapping(public_id: str, body: dict):
    """Map the columns and start the import

    One target per column, in the file's order; every column needs one (`ignore` leaves it out). The import
    is queued (202) and a worker runs it in batches: follow it with GET /imports/{id}. Audited.
    """
    job = _job(public_id)
    try:
        imports.confirm_mapping(job, body["mapping"])
    except imports.ImportRefusedError as exc:
        db.session.rollback()
        raise _refused(exc) from None
    assert job.layout is not None
    columns = job.layout["columns"]
    _audit(
        job,
        "contacts.import",
        {
            "list": job.mailing_list.public_id,
            "rows": job.total_rows,
            "mode": job.mode,
            "mapping": dict(zip(columns, body["mapping"], strict=True)),
        },
    )
    db.session.commit()
    return import_json(job), 202


@api_route(
    "/imports/<public_id>/cancel",
    ("POST",),
    responses={200: ImportSchema},
    errors={409: "The import has finished: there is nothing left to cancel."},
    operation_id="cancelImport",
)
def import_cancel(public_id: str):
    """Cancel an import

    One waiting for its mapping is dropped with its file; a queued one ends now; a running one stops after
    the batches in flight (status `cancelling`). Rows of batches already done stay imported. Audited once
    started.
    """
    job = _job(public_id)
    started = job.status != "mapping"
    try:
        imports.cancel(job)
    except imports.ImportRefusedError as exc:
        db.session.rollback()
        raise ApiError(409, str(exc), {"status": job.status}) from None
    if started:
        _audit(job, "contacts.import_cancel", {"processed": job.processed_rows, "rows": job.total_rows})
    db.session.commit()
    return import_json(job)


@api_route(
    "/imports/<public_id>/resume",
    ("POST",),
    responses={202: ImportSchema},
    errors={409: "Only an import stopped by a fault, with its file still here, can be resumed."},
    operation_id="resumeImport",
)
def import_resume(public_id: str):
    """Resume an import stopped by a fault

    It goes on after its last committed batch (every row is applied once). Audited.
    """
    job = _job(public_id)
    try:
        imports.resume(job)
    except imports.ImportRefusedError as exc:
        db.session.rollback()
        raise ApiError(409, str(exc), {"status": job.status}) from None
    _audit(job, "contacts.import_resume", {"processed": job.processed_rows, "rows": job.total_rows})
    db.session.commit()
    return import_json(job), 202


@api_route(
    "/imports/<public_id>/rejected.csv",
    responses={200: REPORT},
    errors={
        403: "The report holds the rejected rows as they were (addresses): a read-and-write key is needed, "
        "as in the admin only editors download it.",
        404: "No such import, or it rejected no row.",
    },
    operation_id="getImportReport",
)
def import_report(public_id: str):
    """The rows an import rejected, as CSV

    Each with its line in the file and the reason, then its cells as they were. Every download is in the
    audit log (it holds addresses).
    """
    if not g.api_key.can_write:
        raise ApiError(
            403,
            "The error report holds the rejected rows with their addresses: it needs a read-and-write key.",
            {"role": g.api_key.role},
        )
    job = _job(public_id)
    if not imports.has_report(job):
        raise ApiError(
            404, "This import rejected no row: there is no error report.", {"import_id": job.public_id}
        )
    _audit(
        job,
        "contacts.import_report",
        {"rows": sum(job.skipped.get(code, 0) for code in imports.REJECT_CODES)},
    )
    db.session.commit()
    return send_file(
        imports.report_path(job),
        mimetype="text/csv",
        as_attachment=True,
        download_name=f"rejected-rows-{job.public_id}.csv",
        max_age=0,
    )
