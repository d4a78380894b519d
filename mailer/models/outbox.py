"""Local outbox: in embedded mode every sent message is stored here and shown in the admin."""
from datetime import datetime

from sqlalchemy import LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailer.clock import utcnow
from mailer.extensions import db
from mailer.models.ids import new_public_id


class OutboxMessage(db.Model):
    """A message as it would have left over SMTP: envelope and raw bytes."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    mail_from: Mapped[str] = mapped_column(String(320))
    rcpt_to: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(998), default="")
    message_id: Mapped[str] = mapped_column(String(250), default="")
    category: Mapped[str] = mapped_column(String(20), default="transactional")
    raw: Mapped[bytes] = mapped_column(LargeBinary)
