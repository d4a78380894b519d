"""What the statistics pages keep so a finished campaign's figures are not recomputed on every view."""

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from mailer.core.clock import utcnow
from mailer.core.extensions import Model


class ConsentSnapshot(Model):
    """How many of a finished campaign's delivered messages went to contacts who had consented to open and to
    click tracking when their message was sent (the denominators of its rates). Those answers come from the
    ledger before each message's send time, so they no longer change once every message is out; they are
    computed once, at the first view after the campaign finished, over a million deliveries in seconds rather
    than on every view. `delivered` is the number of delivered messages they were counted over: when that
    changes (a late bounce, a campaign reopened) the snapshot is recomputed."""

    __tablename__ = "campaign_consent_snapshots"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    delivered: Mapped[int]
    open_consenting: Mapped[int]
    click_consenting: Mapped[int]
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
