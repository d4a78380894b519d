"""CSV import of contacts into a list, through the same rules as every other door.

Two bases are possible: invite everyone by double opt-in (the default), or record that consent was already
obtained elsewhere — then the staff member must say where and how, and that statement goes into the ledger.
Suppressed, restricted and erased addresses are never re-added by an import (Art. 17, 18, 21).
"""

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from flask import current_app
from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import SQLAlchemyError

from mailer.consent.ledger import RequestContext
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.models.imports import ContactImport
from mailer.contacts.operations import (
    MAX_NAME_LENGTH,
    AddressError,
    clean_name,
    email_hash,
    get_or_create_contact,
    normalise_email,
)
from mailer.contacts.suppression import is_suppressed
from mailer.core.broker import enqueue_after_commit
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.text import TextRefused
from mailer.subscriptions.models.lists import MailingList
from mailer.subscriptions.operations import Basis, Door, Outcome, request_confirmation_email, subscribe

MAX_ROWS = 1_000_000
CHUNK_ROWS = 500
MAX_ROW_ERRORS = 50
# Skip reasons that are the file's fault, reported with their line number on the import's page.
ROW_ERRORS = {
    "invalid_address": "not a valid email address",
    "invalid_name": "the name contains control characters (such as NUL or ESC)",
    "refused": "the database refused this row",
}
# What subscribe() did for a row, as the import's page counts it.
IMPORT_OUTCOMES = {
    Outcome.GRANTED: "added",
    Outcome.REQUESTED: "invited",
    Outcome.ALREADY: "already_subscribed",
    Outcome.ASKED: "already_pending",
    Outcome.OPTED_OUT: "unsubscribed",
}
EMAIL_COLUMNS = ("email", "e-mail", "email address", "mail")
NAME_COLUMNS = ("name", "full name")


class ImportRefusedError(ValueError):
    """The file or the settings cannot be used; the message says why."""


@dataclass
class ImportRequest:
    """What a staff member submitted."""

    filename: str
    data: bytes
    mailing_list: MailingList | None
    mode: str
    consent_statement: str = ""


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportRefusedError("The file is not text (UTF-8 or Windows-1252 CSV expected).")


def _reader(text: str) -> csv.DictReader:
    """A DictReader with the delimiter sniffed from the header line and lower-cased column names."""
    header = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=header.count)
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    if reader.fieldnames is None:
        raise ImportRefusedError("The file is empty.")
    reader.fieldnames = [(name or "").strip().lower() for name in reader.fieldnames]
    return reader


def _column(fieldnames: Sequence[str] | None, choices: tuple[str, ...]) -> str | None:
    return next((name for name in fieldnames or () if name in choices), None)


def create_import(req: ImportRequest, staff_id: int | None, queue: bool = True) -> ContactImport:
    """Check the upload completely, store it and (unless queue=False) queue it for the worker; the caller
    commits."""
    if req.mailing_list is None:
        raise ImportRefusedError("Choose the list to import into.")
    if req.mode not in ("double_opt_in", "has_consent"):
        raise ImportRefusedError("Choose how these people gave their consent.")
    statement = (req.consent_statement or "").strip()
    if req.mode == "has_consent" and len(statement) < 20:
        raise ImportRefusedError(
            "Describe where and how these people consented (at least 20 characters): it is "
            "recorded as proof for each of them."
        )
    if not req.data:
        raise ImportRefusedError("Choose a CSV file to upload.")
    max_mb = current_app.config["IMPORT_MAX_MB"]
    if len(req.data) > max_mb * 1024 * 1024:
        raise ImportRefusedError(
            f"The file is larger than {max_mb} MB. Split it into smaller files and upload each."
        )
    text = _decode(req.data)
    try:
        reader = _reader(text)
        if _column(reader.fieldnames, EMAIL_COLUMNS) is None:
            raise ImportRefusedError("The first line must name the columns, and one must be “email”.")
        total = sum(1 for _ in reader)
    except csv.Error as exc:
        raise ImportRefusedError(f"The file is not valid CSV: {exc}.") from None
    if total == 0:
        raise ImportRefusedError("The file has a header line but no contacts.")
    if total > MAX_ROWS:
        raise ImportRefusedError(f"The file has more than {MAX_ROWS:,} rows; split it into parts.")
    job = ContactImport(
        list_id=req.mailing_list.id,
        filename=(req.filename or "upload.csv")[:255],
        mode=req.mode,
        consent_statement=statement[:5000],
        data=text.encode(),
        total_rows=total,
        created_by_id=staff_id,
        skipped={},
        row_errors=[],
    )
    db.session.add(job)
    db.session.flush()
    if queue:
        enqueue_after_commit(db.session(), "run_contact_import", job.id)
    return job


def _row_name(row: dict, name_col: str | None) -> str:
    """The row's name (its name column, else first and last name), by the rule every door applies to names."""
    name = clean_name((row.get(name_col) or "")[:MAX_NAME_LENGTH]) if name_col else ""
    if not name:
        name = clean_name(
            " ".join((row.get("first_name") or "", row.get("last_name") or ""))[:MAX_NAME_LENGTH]
        )
    return name


def _import_row(
    job: ContactImport,
    mailing_list: MailingList,
    row: dict,
    email_col: str,
    name_col: str | None,
    ctx: RequestContext,
) -> tuple[str, int | None]:
    """Apply one row; returns the outcome (added, invited, or a skip reason) and the contact id."""
    try:
        email = normalise_email(row.get(email_col) or "")
    except AddressError:
        return "invalid_address", None
    try:
        name = _row_name(row, name_col)
    except TextRefused:
        return "invalid_name", None
    if is_suppressed(email_hash(email)):
        return "suppressed", None
    contact, _ = get_or_create_contact(email, source=ctx.source, name=name or None)
    if contact.status != ContactStatus.ACTIVE:
        return contact.status, None  # restricted / erased are never touched by an import
    if name and not contact.name:
        contact.name = name
    details = {"import": job.public_id, "file": job.filename}
    if job.mode == Basis.PRIOR_CONSENT:
        details["statement"] = job.consent_statement
    door = Door(ctx, ctx.source, Basis(job.mode), details=details, by_person=False)
    outcome = subscribe(contact, [mailing_list.purpose], door).outcomes[0][1]
    return IMPORT_OUTCOMES[outcome], contact.id


def _import_row_alone(
    job: ContactImport,
    mailing_list: MailingList,
    row: dict,
    email_col: str,
    name_col: str | None,
    ctx: RequestContext,
) -> tuple[str, int | None]:
    """One row in its own savepoint: a row the database refuses is reported and undone, the others go on."""
    try:
        with db.session.begin_nested():
            return _import_row(job, mailing_list, row, email_col, name_col, ctx)
    except SQLAlchemyError as exc:
        current_app.logger.warning(
            "import %s: a row was refused by the database (%s)", job.id, exc.__class__.__name__
        )  # the row itself is personal data: not logged
        return "refused", None


def run_import(import_id: int) -> None:
    """Process a queued import in chunks, committing progress after each; claimed once, so never run twice."""
    claim = db.session.execute(
        update(ContactImport)
        .where(ContactImport.id == import_id, ContactImport.status == "queued")
        .values(status="running")
    )
    db.session.commit()
    if not cast(CursorResult, claim).rowcount:
        return  # already taken by another worker (or finished): never process a file twice
    job = db.session.execute(select(ContactImport).where(ContactImport.id == import_id)).scalar_one()
    ctx = RequestContext(source=f"import:{job.public_id}")
    mailing_list = db.session.get(MailingList, job.list_id)
    reader = _reader((job.data or b"").decode())
    email_col = _column(reader.fieldnames, EMAIL_COLUMNS)
    name_col = _column(reader.fieldnames, NAME_COLUMNS)
    invites: list[int] = []
    try:
        if mailing_list is None or email_col is None:
            raise ImportRefusedError("The list was deleted, or the file has no “email” column.")
        for line, row in enumerate(reader, start=2):
            outcome, contact_id = _import_row_alone(job, mailing_list, row, email_col, name_col, ctx)
            if outcome == "added":
                job.added += 1
            elif outcome == "invited":
                job.invited += 1
                invites.extend([contact_id] if contact_id is not None else [])
            else:
                job.skipped = {**job.skipped, outcome: job.skipped.get(outcome, 0) + 1}
                if outcome in ROW_ERRORS and len(job.row_errors) < MAX_ROW_ERRORS:
                    job.row_errors = [*job.row_errors, [line, ROW_ERRORS[outcome]]]
            job.processed_rows += 1
            if job.processed_rows % CHUNK_ROWS == 0:
                db.session.commit()
                _send_invites(invites)
                invites = []
        job.status, job.finished_at, job.data = "done", utcnow(), None
        db.session.commit()
        _send_invites(invites)
    except Exception as exc:
        db.session.rollback()
        job = db.session.execute(select(ContactImport).where(ContactImport.id == import_id)).scalar_one()
        job.status, job.error, job.finished_at, job.data = (
            "failed",
            f"{exc.__class__.__name__}: {exc}"[:2000],
            utcnow(),
            None,
        )
        db.session.commit()
        current_app.logger.exception("import %s failed", import_id)


def _send_invites(contact_ids: list[int]) -> None:
    """Double opt-in emails for invited contacts (subject to the usual per-address caps)."""
    for contact_id in contact_ids:
        contact = db.session.get(Contact, contact_id)
        if contact is not None:
            request_confirmation_email(contact)


def progress(job: ContactImport) -> dict:
    """Numbers for the progress bar."""
    percent = round(100 * job.processed_rows / job.total_rows) if job.total_rows else 100
    return {
        "status": job.status,
        "total": job.total_rows,
        "processed": job.processed_rows,
        "percent": percent,
        "added": job.added,
        "invited": job.invited,
        "skipped": job.skipped,
        "error": job.error,
    }
