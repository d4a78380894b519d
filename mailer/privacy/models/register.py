"""The erasure register: which contact was erased when, by ids and the address's keyed hash only.

It outlives the person (nothing in it identifies anyone without the hash key and a candidate address) so that
erasures made after a backup can be applied again to a restored copy (`flask privacy reapply-erasures`).
"""

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from mailer.core.clock import utcnow
from mailer.core.extensions import Model


class ErasureRecord(Model):
    """One erasure: the contact's public id, the keyed hash of its address (when it had one) and the time."""

    __tablename__ = "erasure_register"
    __table_args__ = (Index("ix_erasure_register_erased_at", "erased_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_public_id: Mapped[str] = mapped_column(String(32))
    email_hash: Mapped[str | None] = mapped_column(String(64))
    erased_at: Mapped[datetime] = mapped_column(default=utcnow)
