"""CSV export of a list's or a saved segment's contacts by owners and admins: a stated reason in the audit log
first, sensitive fields never included, restricted and erased contacts left out, every cell safe to open in a
spreadsheet, and the file streamed in keyset batches so memory stays flat however large the audience."""

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Select, select

from mailer import audit
from mailer.contacts import fields as field_service
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.models.fields import ContactField, ContactFieldValue
from mailer.core.clock import utcnow
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.core.spreadsheet import csv_text
from mailer.segments.conditions import compile_tree
from mailer.segments.models import Segment
from mailer.subscriptions.lists import memberships, on_list
from mailer.subscriptions.models.lists import MailingList

BATCH = 1000
MIN_REASON_LENGTH = 10
BASE_COLUMNS = ["id", "email", "name", "status", "source", "added_at", "lists"]


@dataclass
class Audience:
    """What is exported: a list (with each subscription's state) or a saved segment (as it matches now)."""

    mailing_list: MailingList | None = None
    segment: Segment | None = None

    @property
    def label(self) -> str:
        return self.mailing_list.name if self.mailing_list else self.segment.name if self.segment else ""

    @property
    def kind(self) -> str:
        return "list" if self.mailing_list else "segment"

    @property
    def public_id(self) -> str:
        source = self.mailing_list or self.segment
        return source.public_id if source else ""

    def contacts(self, after_id: int) -> Select:
        """The audience's contacts after this id, in id order: neither restricted (Art. 18) nor erased."""
        query = select(Contact).where(Contact.status == ContactStatus.ACTIVE, Contact.id > after_id)
        if self.mailing_list is not None:
            return query.where(on_list(self.mailing_list.id, after_id)).order_by(Contact.id)
        assert self.segment is not None
        return query.where(Contact.id.in_(compile_tree(self.segment.tree).query)).order_by(Contact.id)


def exported_fields() -> list[ContactField]:
    """The custom fields a file carries: every active one except the sensitive (never exported)."""
    return [f for f in field_service.all_fields() if not f.is_sensitive]


def start_export(
    audience: Audience, reason: str, actor: object, ip: str | None = None, via: dict | None = None
) -> str:
    """Check the reason and record the export in the audit log (committed before any row leaves); returns the
    file name. `via` adds where it came from (e.g. the API key) to the audit entry."""
    reason = " ".join((reason or "").split())
    if len(reason) < MIN_REASON_LENGTH:
        raise PrivacyError("Say why you need this file (at least a few words): it goes into the audit log.")
    columns = BASE_COLUMNS + [f.key for f in exported_fields()]
    audit.record(
        "contacts.export",
        audience.kind,
        audience.public_id,
        {"name": audience.label, "reason": reason[:500], "columns": columns, **(via or {})},
        actor=actor,
        ip=ip,
    )
    db.session.commit()
    return f"{audience.kind}-{audience.public_id}-{utcnow():%Y%m%d-%H%M}.csv"


def csv_chunks(audience: Audience) -> Iterator[str]:
    """The CSV document, one chunk per batch of contacts (header first), every cell made formula-safe."""
    defined = exported_fields()
    yield csv_text(BASE_COLUMNS + [f.label for f in defined], [])
    last_id = 0
    while True:
        query = audience.contacts(last_id).limit(BATCH)
        batch = list(db.session.execute(query).scalars())
        if not batch:
            return
        ids = [contact.id for contact in batch]
        lists = memberships(ids)
        values: dict[tuple[int, int], str] = {}
        if defined:
            rows = db.session.execute(
                select(
                    ContactFieldValue.contact_id, ContactFieldValue.field_id, ContactFieldValue.value
                ).where(
                    ContactFieldValue.contact_id.in_(ids),
                    ContactFieldValue.field_id.in_([f.id for f in defined]),
                )
            )
            values = {(contact_id, field_id): value or "" for contact_id, field_id, value in rows}
        yield csv_text(
            [],
            (
                [
                    contact.public_id,
                    contact.email or "",
                    contact.name or "",
                    contact.status,
                    contact.source or "",
                    contact.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    "; ".join(f"{lst.name} ({status})" for lst, status in lists.get(contact.id, [])),
                    *(values.get((contact.id, f.id), "") for f in defined),
                ]
                for contact in batch
            ),
        ).removeprefix("\r\n")
        last_id = ids[-1]
        for contact in batch:
            db.session.expunge(contact)  # flat memory: a written batch does not stay in the session
