"""CSV import of contacts into a list, through the same rules as every other door.

Two bases are possible: invite everyone by double opt-in (the default), or record that consent was already
obtained elsewhere — then the staff member must say where and how, and that statement goes into the ledger.
Suppressed, restricted and erased addresses are never re-added by an import (Art. 17, 18, 21).

The file is streamed to disk (IMPORT_DIR, up to IMPORT_MAX_MB), read once to count its rows, then waits for
its mapping: each column goes to a built-in field, a custom field or is ignored, explicitly (an unknown column
is never dropped without a choice). The worker reads it again in batches (import_batch.py), checks every
value, and writes the rows it refuses, with the reason, to a CSV report staff can download.

Each batch commits with the job's counts, so a fault (an error, a killed worker, a lost database) loses at
most the batches in flight and nothing of them is half-written. On PostgreSQL two batches are written at once
(IMPORT_LANES), each on a connection of its own, and they commit in file order (_write_in_lanes). The file
stays until the import is done or cancelled: staff resume a stopped import, which skips the rows already
counted (`processed_rows`, committed with their batch) and cuts the error report back to the rows of those
committed batches, so every row is applied once. On PostgreSQL the worker running an import holds an
advisory lock for it on a connection of its own: a worker that dies releases it, which is how a "running"
import whose worker is gone is told from a live one (and a redelivered task then takes it over). Staff may
cancel an import at any time: a running one stops after the batches in flight; the rows of committed batches
stay imported.
"""

import codecs
import csv
import os
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO, Any, cast

from flask import current_app
from flask_babel import gettext, lazy_gettext
from sqlalchemy import CursorResult, func, select, text, update

from mailer.consent.ledger import RequestContext
from mailer.contacts import fields as contact_fields
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.fields import ContactField
from mailer.contacts.models.imports import ContactImport
from mailer.contacts.operations import (
    MAX_NAME_LENGTH,
    AddressError,
    clean_name,
    email_hasher,
    normalise_email_quickly,
)
from mailer.core.broker import enqueue_after_commit
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.spreadsheet import safe_cell
from mailer.core.text import TextRefused
from mailer.delivery.ratelimit import send_rate
from mailer.subscriptions.import_batch import IN_ORDER, BatchOrder, BatchTarget, ImportRow, import_batch
from mailer.subscriptions.models.lists import MailingList
from mailer.subscriptions.operations import Basis, request_confirmation_email

MAX_ROWS = 10_000_000
BATCH_ROWS = 5000  # rows written and committed together (IMPORT_BATCH_ROWS overrides)
MAX_ROW_ERRORS = 50  # shown on the import's page; the downloadable report has every rejected row
PREVIEW_ROWS = 5
MEMO_CELLS = 10_000  # checked cell texts remembered per custom field while an import runs
COPY_CHUNK = 1024 * 1024
EMAIL_COLUMNS = ("email", "e-mail", "email address", "mail")
NAME_COLUMNS = ("name", "full name")
FIRST_NAME_COLUMNS = ("first_name", "first name", "firstname", "given name")
LAST_NAME_COLUMNS = ("last_name", "last name", "lastname", "surname", "family name")
IGNORE = "ignore"
BUILT_IN_TARGETS = {
    "email": lazy_gettext("Email address"),
    "name": lazy_gettext("Name"),
    "first_name": lazy_gettext("First name"),
    "last_name": lazy_gettext("Last name"),
}
REJECT_CODES = ("invalid_address", "invalid_name", "invalid_value")
# Why rows were skipped, as the import's page names it.
SKIP_REASONS = {
    "suppressed": lazy_gettext("unsubscribed from everything, erased or bounced"),
    "restricted": lazy_gettext("processing restricted"),
    "erased": lazy_gettext("erased"),
    "already_subscribed": lazy_gettext("already subscribed"),
    "already_pending": lazy_gettext("already waiting for confirmation"),
    "unsubscribed": lazy_gettext("unsubscribed from this list"),
    "invalid_address": lazy_gettext("not a valid address (see the error report)"),
    "invalid_name": lazy_gettext("name with control characters (see the error report)"),
    "invalid_value": lazy_gettext("a value of the wrong type (see the error report)"),
}


class ImportRefusedError(ValueError):
    """The file or the settings cannot be used; the message says why, `field` what it is about ("file",
    "list", "mode", "statement" or "mapping")."""

    def __init__(self, message: str, field: str = "file"):
        super().__init__(message)
        self.field = field


class ImportTooLargeError(ImportRefusedError):
    """The upload is larger than IMPORT_MAX_MB."""


class RowRejected(ValueError):
    """A row cannot be imported: a reason code (counted on the import's page) and a message saying why (it
    goes into the error report)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class ImportRequest:
    """What a staff member submitted: the file as a readable binary stream."""

    filename: str
    source: IO[bytes] | None
    mailing_list: MailingList | None
    mode: str
    consent_statement: str = ""


def import_dir() -> str:
    """Where uploaded files wait for the worker (IMPORT_DIR, else the instance folder's imports/)."""
    path = current_app.config.get("IMPORT_DIR") or os.path.join(current_app.instance_path, "imports")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def upload_path(job: ContactImport) -> str:
    return os.path.join(import_dir(), f"{job.public_id}.csv")


def report_path(job: ContactImport) -> str:
    return os.path.join(import_dir(), f"{job.public_id}.rejected.csv")


def _store(source: IO[bytes], path: str, max_bytes: int) -> int:
    """Copy the upload to disk in chunks (memory stays flat); refused when it is larger than the cap."""
    size = 0
    with open(path, "wb") as out:
        while chunk := source.read(COPY_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                break
            out.write(chunk)
    if size > max_bytes:
        os.unlink(path)
        raise ImportTooLargeError(
            f"The file is larger than {max_bytes // (1024 * 1024)} MB. Split it into smaller files and "
            "upload each, or ask the operator to raise IMPORT_MAX_MB."
        )
    return size


def _encoding(path: str) -> str:
    """UTF-8 (with or without a byte-order mark) if the whole file decodes as such, else Windows-1252."""
    for encoding in ("utf-8-sig", "cp1252"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with open(path, "rb") as handle:
                while chunk := handle.read(COPY_CHUNK):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise ImportRefusedError("The file is not text (UTF-8 or Windows-1252 CSV expected).")


def _open_rows(path: str, layout: dict) -> Iterator[list[str]]:
    """The file's rows (header first) as lists of cells, streamed."""
    with open(path, encoding=layout["encoding"], newline="") as handle:
        yield from csv.reader(handle, delimiter=layout["delimiter"])


def _sniff(path: str, encoding: str) -> dict:
    """Encoding, delimiter (the most frequent of , ; tab on the header line) and the column names."""
    with open(path, encoding=encoding, newline="") as handle:
        header = handle.readline()
    if not header.strip():
        raise ImportRefusedError("The file is empty.")
    delimiter = max((",", ";", "\t"), key=header.count)
    columns = next(csv.reader([header], delimiter=delimiter), [])
    return {
        "encoding": encoding,
        "delimiter": delimiter,
        "columns": [" ".join(name.split()) for name in columns],
    }


def _target_for(column: str, by_name: dict[str, ContactField]) -> str:
    """The field a column name plainly means, or "" (staff must choose)."""
    name = column.strip().lower()
    for target, names in (
        ("email", EMAIL_COLUMNS),
        ("name", NAME_COLUMNS),
        ("first_name", FIRST_NAME_COLUMNS),
        ("last_name", LAST_NAME_COLUMNS),
    ):
        if name in names:
            return target
    custom = by_name.get(name) or by_name.get(name.replace(" ", "_"))
    return f"field:{custom.key}" if custom is not None else ""


def mappable_fields() -> list[ContactField]:
    """Custom fields a column may fill: active ordinary ones (a sensitive value needs the person's own
    explicit consent, which a file cannot carry)."""
    return [custom for custom in contact_fields.all_fields() if not custom.is_sensitive]


def mapping_choices() -> list[tuple[str, str]]:
    """Every target a column can be given, as (value, label)."""
    return [
        *((value, str(label)) for value, label in BUILT_IN_TARGETS.items()),
        *(
            (f"field:{custom.key}", gettext("Custom field: %(field)s", field=custom.label))
            for custom in mappable_fields()
        ),
        (IGNORE, gettext("Ignore this column (not imported)")),
    ]


def guess_mapping(columns: list[str]) -> list[str]:
    """A first mapping: known names mapped, the rest left for staff to choose ("")."""
    by_name: dict[str, ContactField] = {}
    for custom in mappable_fields():
        by_name.setdefault(custom.key.lower(), custom)
        by_name.setdefault(custom.label.strip().lower(), custom)
    guessed, taken = [], set()
    for column in columns:
        target = _target_for(column, by_name)
        guessed.append("" if target in taken else target)
        taken.add(target)
    return guessed


def create_import(req: ImportRequest, staff_id: int | None) -> ContactImport:
    """Check the upload, store it on disk and leave it waiting for its mapping; the caller commits."""
    if req.mailing_list is None:
        raise ImportRefusedError("Choose the list to import into.", "list")
    if req.mailing_list.archived_at is not None:
        raise ImportRefusedError(
            f"The list “{req.mailing_list.name}” is archived and takes nobody new: un-archive it first.",
            "list",
        )
    if req.mode not in (Basis.DOUBLE_OPT_IN, Basis.PRIOR_CONSENT):
        raise ImportRefusedError("Choose how these people gave their consent.", "mode")
    statement = (req.consent_statement or "").strip()
    if req.mode == Basis.PRIOR_CONSENT and len(statement) < 20:
        raise ImportRefusedError(
            "Describe where and how these people consented (at least 20 characters): it is "
            "recorded as proof for each of them.",
            "statement",
        )
    if req.source is None:
        raise ImportRefusedError("Choose a CSV file to upload.")
    job = ContactImport(
        list_id=req.mailing_list.id,
        filename=(req.filename or "upload.csv")[:255],
        mode=req.mode,
        consent_statement=statement[:5000],
        status="mapping",
        created_by_id=staff_id,
        skipped={},
        row_errors=[],
    )
    db.session.add(job)
    db.session.flush()  # the public id names the file
    path = upload_path(job)
    try:
        if not _store(req.source, path, current_app.config["IMPORT_MAX_MB"] * 1024 * 1024):
            raise ImportRefusedError("Choose a CSV file to upload.")
        layout = _sniff(path, _encoding(path))
        if not any(target == "email" for target in guess_mapping(layout["columns"])):
            raise ImportRefusedError("The first line must name the columns, and one must be “email”.")
        total = _count_rows(path, layout)
    except ImportRefusedError:
        _remove(path)
        raise
    job.total_rows = total
    job.layout = {**layout, "mapping": guess_mapping(layout["columns"])}
    return job


def _count_rows(path: str, layout: dict) -> int:
    try:
        total = sum(1 for row in _open_rows(path, layout) if "".join(row).strip()) - 1
    except csv.Error as exc:
        raise ImportRefusedError(f"The file is not valid CSV: {exc}.") from None
    if total <= 0:
        raise ImportRefusedError("The file has a header line but no contacts.")
    if total > MAX_ROWS:
        raise ImportRefusedError(f"The file has more than {MAX_ROWS:,} rows; split it into parts.")
    return total


def _remove(path: str) -> None:
    if os.path.exists(path):
        os.unlink(path)


def preview(job: ContactImport, rows: int = PREVIEW_ROWS) -> list[list[str]]:
    """The first rows of the waiting file, cell by cell, for the mapping step."""
    if job.layout is None or not os.path.exists(upload_path(job)):
        return []
    found: list[list[str]] = []
    reader = _open_rows(upload_path(job), job.layout)
    next(reader, None)
    for row in reader:
        if len(found) == rows:
            break
        found.append(row)
    return found


def confirm_mapping(job: ContactImport, mapping: list[str], queue: bool = True) -> None:
    """Record what each column maps to and queue the import; the caller commits."""
    if job.status != "mapping" or job.layout is None:
        raise ImportRefusedError("This import is no longer waiting for its columns to be mapped.", "status")
    columns = job.layout["columns"]
    allowed = dict(mapping_choices())
    if len(mapping) != len(columns):
        raise ImportRefusedError("Choose what to do with every column.", "mapping")
    unchosen = [
        column or f"column {n}"
        for n, (column, target) in enumerate(zip(columns, mapping, strict=True), 1)
        if not target
    ]
    if unchosen:
        raise ImportRefusedError(
            "Choose a field for each column, or “Ignore”: "
            + ", ".join(f"“{name}”" for name in unchosen)
            + ".",
            "mapping",
        )
    unknown = [target for target in mapping if target not in allowed]
    if unknown:
        raise ImportRefusedError("A chosen field does not exist (any more). Choose again.", "mapping")
    if mapping.count("email") != 1:
        raise ImportRefusedError("Map exactly one column to “Email address”.", "mapping")
    used = [target for target in mapping if target != IGNORE]
    if len(used) != len(set(used)):
        raise ImportRefusedError(
            "Each field can take only one column; two columns were mapped to the same.", "mapping"
        )
    job.layout = {**job.layout, "mapping": list(mapping)}
    job.status = "queued"
    if queue:
        enqueue_after_commit(db.session(), "run_contact_import", job.id)


def cancel(job: ContactImport) -> None:
    """Drop an import that has not finished, and its file; the caller commits.

    Waiting for its mapping: dropped at once. Queued, stopped by a fault, or running with its worker gone: it
    ends now, the rows of its committed batches staying imported. Running: its worker stops at the end of the
    batches in flight (status "cancelling"), which it commits first."""
    if job.status == "mapping":
        _remove(upload_path(job))
        job.status, job.error, job.finished_at = "failed", "Cancelled before it started.", utcnow()
        return
    if not can_cancel(job):
        raise ImportRefusedError("This import has finished: there is nothing left to cancel.")
    if job.status in ("running", "cancelling") and runner_alive(job):
        job.status = "cancelling"
    else:
        _finish_cancelled(job)


def _finish_cancelled(job: ContactImport) -> None:
    _remove(upload_path(job))
    job.status, job.finished_at = "cancelled", utcnow()
    job.error = (
        f"Cancelled after {job.processed_rows:,} of {job.total_rows:,} rows; the rows before stay imported."
    )


_RUNNER_LOCK = 0x1E7  # advisory lock namespace of running imports (the key is the import's id)


def runner_alive(job: ContactImport) -> bool:
    """Whether a worker is running this import right now. PostgreSQL tells by the runner's advisory lock; on
    SQLite (embedded worker, same process) an import marked running is taken to be running."""
    if db.engine.dialect.name != "postgresql":
        return job.status in ("running", "cancelling")
    with db.engine.connect() as connection:
        free = connection.execute(
            text("SELECT pg_try_advisory_lock(:space, :id)"), {"space": _RUNNER_LOCK, "id": job.id}
        ).scalar()
        if free:
            connection.execute(
                text("SELECT pg_advisory_unlock(:space, :id)"), {"space": _RUNNER_LOCK, "id": job.id}
            )
        connection.commit()
    return not free


@contextmanager
def _runner_lock(import_id: int) -> Iterator[bool]:
    """Hold this import's runner lock (PostgreSQL) for the block, on a connection of its own; yields whether
    it was free (False: another worker is running the import)."""
    if db.engine.dialect.name != "postgresql":
        yield True
        return
    with db.engine.connect() as connection:
        args = {"space": _RUNNER_LOCK, "id": import_id}
        got = bool(connection.execute(text("SELECT pg_try_advisory_lock(:space, :id)"), args).scalar())
        connection.commit()
        try:
            yield got
        finally:
            if got:
                connection.execute(text("SELECT pg_advisory_unlock(:space, :id)"), args)
                connection.commit()


def can_resume(job: ContactImport) -> bool:
    """A stopped import whose file is still here: stopped by a fault, or running with its worker gone."""
    if not os.path.exists(upload_path(job)):
        return False
    if job.status == "failed":
        return job.started_at is not None  # not one cancelled before it started
    return job.status == "running" and not runner_alive(job)


def can_cancel(job: ContactImport) -> bool:
    return job.status in ("mapping", "queued", "running", "cancelling") or can_resume(job)


def resume(job: ContactImport, queue: bool = True) -> None:
    """Queue a stopped import again: it goes on after its last committed batch; the caller commits."""
    if not can_resume(job):
        raise ImportRefusedError(
            "Only an import stopped by a fault, with its file still here, can be resumed."
        )
    job.status, job.error, job.finished_at = "queued", "", None
    # The rate shown counts from the resumed run's start and the rows it does, not the time the import stood.
    job.layout = {**(job.layout or {}), "resumed_at_row": job.processed_rows}
    job.started_at = None
    if queue:
        enqueue_after_commit(db.session(), "run_contact_import", job.id)


def purge_import_files(days: int, dry_run: bool = False) -> int:
    """Storage limitation for imports: the uploaded file and the rejected-row report (both name people)
    of an import finished more than `days` ago go, and an upload still waiting for its mapping after that
    long is cancelled with its file. The import's record (counts, reasons) stays. Returns how many imports
    lost files."""
    cutoff = utcnow() - timedelta(days=days)
    finished = select(ContactImport).where(
        ContactImport.status.in_(("done", "failed", "cancelled")), ContactImport.finished_at < cutoff
    )
    waiting = select(ContactImport).where(
        ContactImport.status == "mapping", ContactImport.created_at < cutoff
    )
    count = 0
    for job in db.session.execute(finished).scalars():
        paths = [path for path in (upload_path(job), report_path(job)) if os.path.exists(path)]
        count += bool(paths)
        if not dry_run:
            for path in paths:
                os.unlink(path)
    for job in db.session.execute(waiting).scalars():
        count += 1
        if not dry_run:
            cancel(job)
            job.error = f"Its columns were not mapped within {days} days; the file was deleted."
    if not dry_run:
        db.session.commit()
    return count


_Checked = dict[str, Any] | contact_fields.Invalid | None  # a checked value, why it is refused, or empty


@dataclass
class _Reader:
    """How the worker turns a row of cells into an ImportRow (or a RowRejected)."""

    email: int
    name: int | None
    first_name: int | None
    last_name: int | None
    custom: list[tuple[int, ContactField]]
    hash: Callable[[str], str]
    # per custom field's column, the checked outcome of each cell text seen so far: a column's values repeat
    # (a city, a country, yes/no), and checking one costs more than the rest of the row; bounded (MEMO_CELLS)
    checked: dict[int, dict[str, _Checked]] = field(default_factory=dict)

    @classmethod
    def of(cls, mapping: list[str]) -> "_Reader":
        positions = {target: n for n, target in enumerate(mapping) if target != IGNORE}
        keys = {
            target.removeprefix("field:"): n for target, n in positions.items() if target.startswith("field:")
        }
        fields = {custom.key: custom for custom in mappable_fields()}
        missing = [key for key in keys if key not in fields]
        if missing:
            raise ImportRefusedError(f"The custom field “{missing[0]}” was removed or made sensitive.")
        return cls(
            positions["email"],
            positions.get("name"),
            positions.get("first_name"),
            positions.get("last_name"),
            [(n, fields[key]) for key, n in keys.items()],
            email_hasher(),
        )

    def read(self, line: int, cells: list[str]) -> ImportRow:
        def cell(position: int | None) -> str:
            return cells[position] if position is not None and position < len(cells) else ""

        try:
            email = normalise_email_quickly(cell(self.email))
        except AddressError:
            raise RowRejected("invalid_address", "not a valid email address") from None
        try:
            name = clean_name(cell(self.name)[:MAX_NAME_LENGTH]) if self.name is not None else ""
            if not name and (self.first_name is not None or self.last_name is not None):
                both = " ".join((cell(self.first_name), cell(self.last_name)))
                name = clean_name(both[:MAX_NAME_LENGTH])
        except TextRefused:
            raise RowRejected(
                "invalid_name", "the name contains control characters (such as NUL or ESC)"
            ) from None
        values = {}
        for position, custom in self.custom:
            value = self._value(position, custom, cell(position))
            if isinstance(value, contact_fields.Invalid):
                raise RowRejected("invalid_value", value.message)
            if value is not None:
                values[custom.id] = value
        return ImportRow(line, email, self.hash(email), name, values)

    def _value(self, position: int, custom: ContactField, raw: str) -> _Checked:
        """A cell checked for its field (contacts.fields.coerce): the value with its number and date for
        segments, why it is refused, or None for an empty value; remembered for the next row with the same
        text."""
        seen = self.checked.setdefault(position, {})
        if raw in seen:
            return seen[raw]
        value = contact_fields.coerce(custom, raw)
        outcome: _Checked = None
        if isinstance(value, contact_fields.Invalid):
            outcome = value
        elif value:
            number, day = contact_fields.typed_columns(custom, value)
            outcome = {"value": value, "number_value": number, "date_value": day}
        if len(seen) < MEMO_CELLS:
            seen[raw] = outcome
        return outcome


Rejected = list[tuple[int, RowRejected, list[str]]]  # line, why, the row's cells


def _batches(
    job: ContactImport, reader: _Reader, skip: int = 0
) -> Iterator[tuple[list[ImportRow], Rejected]]:
    """The file's rows after the header, in batches: the checked rows and the rejected ones. The first
    `skip` rows (done by an earlier run) are passed over."""
    assert job.layout is not None
    size = current_app.config.get("IMPORT_BATCH_ROWS") or BATCH_ROWS
    rows: list[ImportRow] = []
    rejected: Rejected = []
    source = _open_rows(upload_path(job), job.layout)
    next(source, None)
    for line, cells in enumerate(source, start=2):
        if not "".join(cells).strip():
            continue  # blank lines (every cell blank) are not rows (they were not counted either)
        if skip:
            skip -= 1
            continue
        try:
            rows.append(reader.read(line, cells))
        except RowRejected as exc:
            rejected.append((line, exc, cells))
        if len(rows) + len(rejected) >= size:
            yield rows, rejected
            rows, rejected = [], []
    if rows or rejected:
        yield rows, rejected


def _report(job: ContactImport, rejected: Rejected) -> None:
    """Append rejected rows to the downloadable report (line, reason, then the row as it was)."""
    assert job.layout is not None
    path = report_path(job)
    new = not os.path.exists(path)
    with open(path, "a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow([safe_cell(name) for name in ["line", "reason", *job.layout["columns"]]])
        writer.writerows(
            [line, str(why), *(safe_cell(cell) for cell in cells)] for line, why, cells in rejected
        )


def _trim_report(job: ContactImport) -> None:
    """Cut the error report back to the rejected rows of the committed batches (a batch in flight at a fault
    may have written its rows there before it was lost)."""
    path = report_path(job)
    if not os.path.exists(path):
        return
    keep = sum(job.skipped.get(code, 0) for code in REJECT_CODES)
    if not keep:
        os.unlink(path)
        return
    with open(path, encoding="utf-8", newline="") as handle:
        records = list(csv.reader(handle))
    if len(records) - 1 > keep:
        with open(path + ".part", "w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows(records[: keep + 1])
        os.replace(path + ".part", path)


def _tally(job: ContactImport, outcomes: list[tuple[ImportRow, str, int]], rejected: Rejected) -> list[int]:
    """Count a batch's outcomes on the job; returns the contacts to invite."""
    counts = Counter(outcome for _, outcome, _ in outcomes)
    counts.update(why.code for _, why, _ in rejected)
    invites = [contact_id for _, outcome, contact_id in outcomes if outcome == "invited"]
    job.added += counts.pop("added", 0)
    job.invited += counts.pop("invited", 0)
    skipped = dict(job.skipped)
    for reason, count in counts.items():
        skipped[reason] = skipped.get(reason, 0) + count
    if rejected:
        room = MAX_ROW_ERRORS - len(job.row_errors)
        job.row_errors = [*job.row_errors, *([line, str(why)] for line, why, _ in rejected[:room])]
    job.skipped = skipped
    job.processed_rows += len(outcomes) + len(rejected)
    return invites


def run_import(import_id: int) -> None:
    """Process a queued import batch by batch, committing each batch with its progress; claimed once, so never
    run twice at the same time. A resumed import (or one whose worker died, on PostgreSQL) goes on after its
    last committed batch."""
    with _runner_lock(import_id) as free:
        if free:
            _run_claimed(import_id)


def _run_claimed(import_id: int) -> None:
    # Under the runner lock: "running" here means its worker died (PostgreSQL), so it may be taken over.
    claimable = ("queued", "running") if db.engine.dialect.name == "postgresql" else ("queued",)
    claim = db.session.execute(
        update(ContactImport)
        .where(ContactImport.id == import_id, ContactImport.status.in_(claimable))
        .values(status="running", started_at=func.coalesce(ContactImport.started_at, utcnow()))
    )
    db.session.commit()
    if not cast(CursorResult, claim).rowcount:
        return  # finished, cancelled or not queued: never process a file twice
    job = db.session.execute(select(ContactImport).where(ContactImport.id == import_id)).scalar_one()
    try:
        mailing_list = db.session.get(MailingList, job.list_id)
        if mailing_list is None or job.layout is None or not os.path.exists(upload_path(job)):
            raise ImportRefusedError("The list was deleted, or the uploaded file is gone.")
        details = {"import": job.public_id, "file": job.filename}
        if job.mode == Basis.PRIOR_CONSENT:
            details["statement"] = job.consent_statement
        target = BatchTarget(
            mailing_list.id,
            mailing_list.purpose.id,
            Basis(job.mode),
            RequestContext(source=f"import:{job.public_id}"),
            details,
        )
        _trim_report(job)
        batches = _batches(job, _Reader.of(job.layout["mapping"]), job.processed_rows)
        lanes = current_app.config.get("IMPORT_LANES") or 1
        if db.engine.dialect.name == "postgresql" and lanes > 1:
            _write_in_lanes(import_id, target, batches, lanes)
            db.session.refresh(job)
        else:
            for rows, rejected in batches:
                if job.status != "running":  # cancelling: asked between batches (read anew after each commit)
                    break
                _write_batch(import_id, target, rows, rejected)
        if job.status == "cancelling":
            _finish_cancelled(job)
        elif job.status == "running":
            job.status, job.finished_at = "done", utcnow()
        db.session.commit()
        _remove(upload_path(job))
    except Exception as exc:
        db.session.rollback()
        job = db.session.execute(select(ContactImport).where(ContactImport.id == import_id)).scalar_one()
        job.status, job.error, job.finished_at = "failed", f"{exc.__class__.__name__}: {exc}"[:2000], utcnow()
        db.session.commit()
        _trim_report(job)  # the file stays: staff may resume after the last committed batch
        current_app.logger.exception("import %s failed", import_id)


def _write_batch(
    import_id: int,
    target: BatchTarget,
    rows: list[ImportRow],
    rejected: Rejected,
    order: "_Turn | None" = None,
) -> None:
    """Write one batch with the job's counts in this session's transaction and commit: the rows, the rejected
    ones in the report, the invitations to send once committed. With an `order`, when the batches before it
    let it (_write_in_lanes)."""
    outcomes = import_batch(db.session.connection(), target, rows, order or IN_ORDER) if rows else []
    if order is not None:
        order.writes()  # counts and report after the batch before (a batch of rejected rows only too)
    job = db.session.execute(select(ContactImport).where(ContactImport.id == import_id)).scalar_one()
    invites = _tally(job, outcomes, rejected)
    if rejected:
        _report(job, rejected)
    if invites:
        enqueue_after_commit(db.session(), "send_import_invitations", invites)
    db.session.commit()
    if order is not None:
        order.committed()


class _Stopped(Exception):
    """A batch written in a lane gives up: another batch failed before it committed."""


class _Lanes:
    """Turns of the batches written at once (_write_in_lanes): batch k inserts its new contacts after batch
    k-1 did, and writes everything else, its counts included, and commits after batch k-1 committed. So the
    batches commit in file order (processed_rows stays the count of a prefix of the file, which resuming
    relies on), and a batch never waits for a later one: an address in two batches makes the later wait
    for the earlier one's commit at its contacts' unique key, never the other way round (the earlier one
    has inserted first). A failure anywhere stops every batch not yet committed."""

    def __init__(self, width: int) -> None:
        self._changed = threading.Condition()
        self.width = width  # batches in flight at most
        self.inserted = 0  # the batch whose contacts go in next
        self.committing = 0  # the batch that commits next
        self.failed = False
        self.addresses: dict[int, set[str]] = {}  # the address hashes of the batches in flight

    def shared(self, batch: int, hashes: set[str]) -> set[str]:
        """The addresses of `batch` that a batch still in flight when it started also had (that one may
        have changed them before it committed); keeps this batch's for the ones after it."""
        with self._changed:
            self.addresses[batch] = hashes
            for gone in [earlier for earlier in self.addresses if earlier <= batch - self.width]:
                del self.addresses[gone]
            before = range(batch - self.width + 1, batch)
            return {h for earlier in before for h in self.addresses.get(earlier, ()) if h in hashes}

    def wait(self, turn: str, batch: int) -> None:
        with self._changed:
            while getattr(self, turn) < batch and not self.failed:
                self._changed.wait()
            if self.failed:
                raise _Stopped

    def passed(self, turn: str, batch: int) -> None:
        with self._changed:
            setattr(self, turn, max(getattr(self, turn), batch + 1))
            self._changed.notify_all()

    def fail(self) -> None:
        with self._changed:
            self.failed = True
            self._changed.notify_all()


class _Turn(BatchOrder):
    """One batch's place in the lanes' order (import_batch waits here)."""

    def __init__(self, lanes: _Lanes, batch: int) -> None:
        self.lanes, self.batch = lanes, batch

    @contextmanager
    def contacts(self) -> Iterator[None]:
        self.lanes.wait("inserted", self.batch)
        try:
            yield
        finally:
            self.lanes.passed("inserted", self.batch)

    def writes(self) -> None:
        self.lanes.passed("inserted", self.batch)  # a batch with no new address inserts none
        self.lanes.wait("committing", self.batch)

    def shared(self, hashes: dict[str, int]) -> set[str]:
        return self.lanes.shared(self.batch, set(hashes))

    def committed(self) -> None:
        self.lanes.passed("committing", self.batch)


def _write_in_lanes(
    import_id: int, target: BatchTarget, batches: Iterator[tuple[list[ImportRow], Rejected]], lanes: int
) -> None:
    """Write the batches `lanes` at a time, each on a connection of its own (PostgreSQL), committed in file
    order (_Lanes). One import's batches written one after the other leave the database and this process
    each idle half the time (this process checks and drafts while the database writes, then waits for it):
    measured at a million contacts, two imports at once wrote 10,500 rows/s together against 5,400 for one.
    Two lanes (bench/audience.py, 100,000 rows into a million contacts, 2 cores, before migration 0066 took
    a sixth off each batch's writes): consent basis 8,410-10,249
    rows/s against 6,511-6,787 one batch after the other, double opt-in 11,929-13,415 against 9,634-9,896;
    a batch's writes then take as long as the next one's preparation, both cores busy, so a third lane gains
    nothing here. The file is read and checked here, a batch ahead; staff cancelling stops it after the
    batches in flight. Raises the first error (after every lane has stopped)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    order = _Lanes(lanes)

    def write(batch: int, rows: list[ImportRow], rejected: Rejected) -> None:
        with app.app_context():
            try:
                _write_batch(import_id, target, rows, rejected, _Turn(order, batch))
            except BaseException:
                order.fail()
                db.session.rollback()
                raise

    in_flight: deque[Future] = deque()
    with ThreadPoolExecutor(lanes, thread_name_prefix=f"import-{import_id}") as pool:
        try:
            for batch, (rows, rejected) in enumerate(batches):
                while len(in_flight) >= lanes:
                    in_flight.popleft().result()
                status = db.session.execute(
                    select(ContactImport.status).where(ContactImport.id == import_id)
                ).scalar_one()
                db.session.commit()
                if status != "running":  # cancelling: asked between batches
                    break
                in_flight.append(pool.submit(write, batch, rows, rejected))
            while in_flight:
                in_flight.popleft().result()
        except BaseException as exc:
            order.fail()
            wait(in_flight)
            if isinstance(exc, _Stopped):  # a lane stopped for another's failure: raise that one
                causes = [f.exception() for f in in_flight]
                raise next(
                    (e for e in causes if e is not None and not isinstance(e, _Stopped)), exc
                ) from None
            raise


def send_invitations(contact_ids: list[int]) -> None:
    """Double opt-in emails for contacts an import invited, each through the usual confirmation job.

    Paced by the global send rate (SEND_RATE_PER_SECOND, the bucket campaigns draw from too), so a large
    import's invitations are spread out rather than all handed to the relay at once, and each is under the
    per-address cap. The per-domain cap of the public forms (a list-bombing defence) does not apply: staff
    chose these addresses, and a 300,000-row file would otherwise use up gmail.com's hourly cap at once, leave
    the rest uninvited for good and shut that domain's sign-ups out of the forms for the hour."""
    rate = send_rate()
    waiting = list(contact_ids)
    while waiting:
        granted = rate.acquire(len(waiting))
        for contact_id in waiting[:granted]:
            contact = db.session.get(Contact, contact_id)
            if contact is not None:
                request_confirmation_email(contact, per_domain=False)
        db.session.commit()  # no snapshot held open while the next block waits for the send rate
        waiting = waiting[granted:]


def has_report(job: ContactImport) -> bool:
    return os.path.exists(report_path(job))


def _duration(seconds: int) -> str:
    """A time left as people say it: 40 s, 12 min, 2 h 5 min."""
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds // 3600} h {round(seconds % 3600 / 60)} min"


def progress(job: ContactImport) -> dict:
    """Numbers for the progress bar: rows done of the total, the rate since the worker started (rows a
    second; for a resumed import, of the rows done since it was resumed) and, while it runs, about how long is
    left."""
    percent = round(100 * job.processed_rows / job.total_rows) if job.total_rows else 100
    rate, left = 0, None
    done_here = job.processed_rows - (job.layout or {}).get("resumed_at_row", 0)  # by this run (resumed)
    if job.started_at is not None and done_here > 0:
        seconds = ((job.finished_at or utcnow()) - job.started_at).total_seconds()
        rate = round(done_here / max(seconds, 0.001))
        if job.status == "running" and rate:
            left = round((job.total_rows - job.processed_rows) / rate)
    return {
        "status": job.status,
        "total": job.total_rows,
        "processed": job.processed_rows,
        "percent": percent,
        "rate": rate,
        "seconds_left": left,
        "left": "" if left is None else " · " + gettext("about %(duration)s left", duration=_duration(left)),
        "added": job.added,
        "invited": job.invited,
        "skipped": job.skipped,
        "rejected": sum(job.skipped.get(code, 0) for code in REJECT_CODES),
        "error": job.error,
    }
