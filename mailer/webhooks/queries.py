"""Reading webhooks for the pages and the API: endpoints with their health, the delivery log."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, select

from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.privacy.models.settings import DataRecipient
from mailer.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)


@dataclass(frozen=True)
class Health:
    """An endpoint's last day: deliveries that succeeded, failed for good, and are still waiting."""

    succeeded: int = 0
    failed: int = 0
    waiting: int = 0

    @property
    def label(self) -> str:
        """One word for the list: healthy, failing, or no traffic."""
        if self.failed and not self.succeeded:
            return "failing"
        if self.failed or self.waiting > 10:
            return "degraded"
        return "healthy" if self.succeeded else "no traffic"


def endpoints() -> list[WebhookEndpoint]:
    """Every endpoint, oldest first."""
    return list(db.session.execute(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).scalars())


def endpoint_by_public_id(public_id: str) -> WebhookEndpoint | None:
    """One endpoint by its public id."""
    return db.session.execute(
        select(WebhookEndpoint).where(WebhookEndpoint.public_id == public_id)
    ).scalar_one_or_none()


def health(endpoint_ids: list[int], now: datetime | None = None) -> dict[int, Health]:
    """Health of each endpoint over the last 24 hours (one grouped query)."""
    if not endpoint_ids:
        return {}
    since = (now or utcnow()) - timedelta(hours=24)
    status = WebhookDelivery.status
    rows = db.session.execute(
        select(
            WebhookDelivery.endpoint_id,
            func.sum(case((status == DeliveryStatus.SUCCEEDED, 1), else_=0)),
            func.sum(case((status == DeliveryStatus.FAILED, 1), else_=0)),
            func.sum(case((status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]), 1), else_=0)),
        )
        .where(WebhookDelivery.endpoint_id.in_(endpoint_ids), WebhookDelivery.created_at >= since)
        .group_by(WebhookDelivery.endpoint_id)
    )
    return {row[0]: Health(int(row[1] or 0), int(row[2] or 0), int(row[3] or 0)) for row in rows}


def deliveries(endpoint: WebhookEndpoint, limit: int = 50, status: str = "") -> list[WebhookDelivery]:
    """The endpoint's most recent deliveries (optionally of one status), newest first."""
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if status:
        query = query.where(WebhookDelivery.status == status)
    return list(db.session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit)).scalars())


def deliveries_page(
    endpoint: WebhookEndpoint, limit: int, before_id: int | None = None, status: str = ""
) -> tuple[list[WebhookDelivery], bool]:
    """The endpoint's deliveries by keyset, newest first: up to `limit` with an id below `before_id` (of one
    status, when given), and whether there are more."""
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if before_id is not None:
        query = query.where(WebhookDelivery.id < before_id)
    if status:
        query = query.where(WebhookDelivery.status == status)
    rows = list(db.session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit + 1)).scalars())
    return rows[:limit], len(rows) > limit


def last_attempts(delivery_ids: list[int]) -> dict[int, WebhookAttempt]:
    """Each delivery's latest attempt (one query), by delivery id; deliveries not tried yet are absent."""
    if not delivery_ids:
        return {}
    latest = (
        select(func.max(WebhookAttempt.id))
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .group_by(WebhookAttempt.delivery_id)
    )
    rows = db.session.execute(select(WebhookAttempt).where(WebhookAttempt.id.in_(latest))).scalars()
    return {row.delivery_id: row for row in rows}


def delivery(endpoint: WebhookEndpoint, delivery_id: int) -> WebhookDelivery | None:
    """One delivery of this endpoint."""
    found = db.session.get(WebhookDelivery, delivery_id)
    return found if found is not None and found.endpoint_id == endpoint.id else None


def attempts(delivery_id: int) -> list[WebhookAttempt]:
    """Every attempt of a delivery, oldest first."""
    return list(
        db.session.execute(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.id)
        ).scalars()
    )


def processors() -> list[DataRecipient]:
    """The privacy settings' active processors, which an endpoint can be declared as."""
    return list(
        db.session.execute(
            select(DataRecipient)
            .where(DataRecipient.role == "processor", DataRecipient.active.is_(True))
            .order_by(DataRecipient.name)
        ).scalars()
    )


def purge_log(days: int, now: datetime | None = None) -> int:
    """Delete finished deliveries (and their attempts' response excerpts) older than `days`, then events no
    delivery refers to; returns the deliveries deleted. The caller commits."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    old = select(WebhookDelivery.id).where(
        WebhookDelivery.status.in_([DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED]),
        WebhookDelivery.completed_at < cutoff,
    )
    db.session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(old)))
    gone = getattr(
        db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(old))), "rowcount", 0
    )
    referenced = select(WebhookDelivery.event_id)
    db.session.execute(
        delete(WebhookEvent).where(WebhookEvent.occurred_at < cutoff, WebhookEvent.id.not_in(referenced))
    )
    return int(gone or 0)
