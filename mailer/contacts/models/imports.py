"""CSV imports of contacts into a list, processed by a worker with visible progress."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.core.clock import utcnow
from mailer.core.extensions import Model
from mailer.core.ids import new_public_id

IMPORT_MODES = ("double_opt_in", "has_consent")
IMPORT_STATUSES = ("mapping", "queued", "running", "done", "failed")


class ContactImport(Model):
    """One uploaded file: who imported what into which list, on what basis, and how it went."""

    __tablename__ = "contact_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    list_id: Mapped[int] = mapped_column(ForeignKey("mailing_lists.id"))
    filename: Mapped[str] = mapped_column(String(255))
    mode: Mapped[str] = mapped_column(String(20))
    consent_statement: Mapped[str] = mapped_column(Text, default="")  # where and how consent was obtained
    status: Mapped[str] = mapped_column(String(20), default="queued")
    data: Mapped[bytes | None] = mapped_column(
        LargeBinary
    )  # no longer written: files wait on disk (IMPORT_DIR)
    # How the file is read: encoding, delimiter, its column names and what each column maps to.
    layout: Mapped[dict | None] = mapped_column(JSON)
    total_rows: Mapped[int] = mapped_column(default=0)
    processed_rows: Mapped[int] = mapped_column(default=0)
    added: Mapped[int] = mapped_column(default=0)
    invited: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[dict] = mapped_column(JSON, default=dict)  # reason -> count
    row_errors: Mapped[list] = mapped_column(JSON, default=list)  # first errors: [line, message]
    error: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]  # when a worker claimed it: the rate shown is rows since then
    finished_at: Mapped[datetime | None]

    mailing_list = relationship("MailingList")
    created_by = relationship("StaffUser")
