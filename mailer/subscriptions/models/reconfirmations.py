"""Re-permission requests: staff asked a list's subscribers to say they still want it, with a deadline."""

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from mailer.core.clock import utcnow
from mailer.core.extensions import Model


class ReconfirmationState(enum.StrEnum):
    """Waiting for the answer; kept (they pressed the button); removed at the deadline; moot (they left the
    list, or were erased or restricted, before the deadline)."""

    WAITING = "waiting"
    KEPT = "kept"
    REMOVED = "removed"
    MOOT = "moot"


class ListReconfirmation(Model):
    """One contact asked to re-confirm one list: at most one row per (list, contact); asking again starts a
    new round on the same row. Holds ids and dates only."""

    __tablename__ = "list_reconfirmations"

    list_id: Mapped[int] = mapped_column(ForeignKey("mailing_lists.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    bulk_job: Mapped[str] = mapped_column(String(32), default="")  # the public id of the job that asked
    state: Mapped[str] = mapped_column(String(10), default=ReconfirmationState.WAITING)
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline_at: Mapped[datetime] = mapped_column(index=True)
    sent_at: Mapped[datetime | None]  # the email went out (None: still queued)
    answered_at: Mapped[datetime | None]
