"""A bulk job: who started which action on which selection, and how far the worker has come."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.core.clock import utcnow
from mailer.core.extensions import Model
from mailer.core.ids import new_public_id


class BulkJob(Model):
    """One bulk action. `selection` is frozen at the start: {"ids": [contact ids]} or {"tree": a segment's
    conditions, "segment": its name}. The worker walks contacts by ascending id; `cursor` (the last contact
    id handled) and the counts move in the same transaction as the batch's changes, so a restart neither
    skips nor repeats a contact."""

    __tablename__ = "bulk_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    action: Mapped[str] = mapped_column(String(20))  # tag | untag
    argument: Mapped[str] = mapped_column(String(120), default="")  # the tag's name
    selection: Mapped[dict] = mapped_column(JSON, default=dict)
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued | running | done
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()

    created_by = relationship("StaffUser")
