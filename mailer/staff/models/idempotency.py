"""Idempotency-Keys of API requests: one row per key and API key, holding the first answer to replay."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mailer.core.clock import utcnow
from mailer.core.extensions import Model


class IdempotentRequest(Model):
    """A request made with an Idempotency-Key: in progress while `status` is null, then its answer (status,
    body) which a repeat with the same key and the same request gets again. Unique per API key, so two
    concurrent first tries meet at the index and only one runs."""

    __tablename__ = "api_idempotent_requests"
    __table_args__ = (
        UniqueConstraint("api_key_id", "key", name="uq_api_idempotent_requests_key"),
        Index("ix_api_idempotent_requests_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of method, path and the parsed body
    endpoint: Mapped[str] = mapped_column(String(100))  # which operation it was, for people reading the table
    created_at: Mapped[datetime] = mapped_column(default=utcnow)  # the key expires a fixed time after this
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)  # when the running try began
    status: Mapped[int | None]  # the answer's HTTP status; null while the first try is still running
    content_type: Mapped[str] = mapped_column(String(100), default="")
    body: Mapped[str | None] = mapped_column(Text)  # the answer's body (JSON), kept until the key expires
