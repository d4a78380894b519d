"""The erasure register: what survives an erasure, so that it can be applied again to a restored backup.

Every erasure adds a row to `erasure_register` (contact public id, keyed address hash, time) and, when
MAILER_ERASURE_REGISTER_FILE is set, a JSON line to that file once the erasure has committed: a copy kept off
the database, so that it survives when the database is restored from an older backup. privacy.restore
re-applies it.
"""

import json
import os
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from mailer.contacts.models.contact import Contact
from mailer.core import after_commit
from mailer.core.extensions import db
from mailer.privacy.models.register import ErasureRecord

PENDING_KEY = "mailer.erasure_register_lines"


@dataclass(frozen=True)
class Entry:
    """One erasure as the register (table or file) holds it."""

    contact_public_id: str
    email_hash: str | None
    erased_at: datetime

    def line(self) -> str:
        return json.dumps(
            {
                "contact": self.contact_public_id,
                "email_hash": self.email_hash,
                "erased_at": self.erased_at.isoformat(),
            }
        )


def record_erasure(contact: Contact, address_hash: str | None) -> None:
    """Note an erasure in the register (the caller commits; the file copy is written after the commit)."""
    record = ErasureRecord(contact_public_id=contact.public_id, email_hash=address_hash)
    db.session.add(record)
    db.session.flush()
    path = current_app.config.get("MAILER_ERASURE_REGISTER_FILE")
    if path:
        entry = Entry(record.contact_public_id, record.email_hash, record.erased_at)
        after_commit.defer(db.session, PENDING_KEY, (path, entry.line()))


@event.listens_for(Session, "after_commit")
def _write_pending(session):
    # At the real commit only; a line deferred in a savepoint that rolled back is dropped (core.after_commit).
    for path, line in after_commit.committed(session, PENDING_KEY):
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def database_entries(since: datetime | None = None) -> list[Entry]:
    """The register as this database holds it (erasures at or after `since`)."""
    query = select(ErasureRecord).order_by(ErasureRecord.erased_at, ErasureRecord.id)
    if since is not None:
        query = query.where(ErasureRecord.erased_at >= since)
    return [
        Entry(r.contact_public_id, r.email_hash, r.erased_at) for r in db.session.execute(query).scalars()
    ]


def file_entries(path: str) -> list[Entry]:
    """The register as a file written by this module or by `flask privacy export-erasures` holds it."""
    entries = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                entries.append(
                    Entry(
                        str(row["contact"]), row.get("email_hash"), datetime.fromisoformat(row["erased_at"])
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}, line {number}: not an erasure register entry ({exc})") from None
    return entries
