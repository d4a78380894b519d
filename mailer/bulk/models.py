"""A bulk job: who started which action on which selection, and how far the worker has come."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.core.clock import utcnow
from mailer.core.extensions import Model
from mailer.core.ids import new_public_id


class BulkJob(Model):
    """One bulk action. `selection` is frozen at the start: {"ids": [contact ids]}, {"tree": a segment's
    conditions, "segment": its name}, or {"members": a description} when every contact matching a search was
    written to bulk_job_members as the job started. The worker walks contacts by ascending id; `cursor` (the
    last contact id handled) and the counts move in the same transaction as the batch's changes, so a restart
    neither skips nor repeats a contact."""

    __tablename__ = "bulk_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    action: Mapped[str] = mapped_column(String(20))  # tag | untag | list_add | list_remove | erase
    argument: Mapped[str] = mapped_column(String(120), default="")  # the tag's name, or the list's public id
    # What else the action needs: the consent basis and its statement (list_add), the reason (erase).
    options: Mapped[dict] = mapped_column(JSON, default=dict)
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


class BulkJobMember(Model):
    """One contact of a job whose selection was frozen by writing it down ("all N matching" a search): the
    contacts that matched when the job started, whatever changes afterwards."""

    __tablename__ = "bulk_job_members"

    job_id: Mapped[int] = mapped_column(ForeignKey("bulk_jobs.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
