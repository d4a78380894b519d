"""Run the real sending engine step by step in a test, and see what it queued for later."""

from datetime import timedelta

from dramatiq.middleware import Middleware
from sqlalchemy import func, select, update

from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns import sending
from mailer.campaigns.models import Campaign
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery.models import Delivery


class Enqueued(Middleware):
    """Every message the app sends to the broker: (actor name, args, delay in ms)."""

    def __init__(self):
        self.messages: list[tuple[str, tuple, int | None]] = []

    def after_enqueue(self, broker, message, delay):
        self.messages.append((message.actor_name, tuple(message.args), delay))

    def of(self, actor_name: str) -> list[tuple[tuple, int | None]]:
        return [(args, delay) for name, args, delay in self.messages if name == actor_name]


def watch_broker(app) -> Enqueued:
    enqueued = Enqueued()
    app.extensions["mailer.workers"].broker.add_middleware(enqueued)
    return enqueued


def start_and_plan(campaign) -> int:
    """Press Send and run the planner now (no worker: the test runs each batch itself); returns the batch."""
    campaigns.start_campaign(campaign)
    db.session.commit()
    sending.plan_campaign(campaign.id)
    return 1


def fresh(campaign) -> Campaign:
    db.session.expire_all()
    return db.session.get(Campaign, campaign.id)


def time_passes(campaign) -> None:
    """Every wait of the campaign and its deliveries is over (instead of sleeping through the backoff)."""
    past = utcnow() - timedelta(seconds=1)
    db.session.execute(
        update(Delivery)
        .where(Delivery.campaign_id == campaign.id, Delivery.not_before_at.is_not(None))
        .values(not_before_at=past)
    )
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.waiting_until.is_not(None))
        .values(waiting_until=past)
    )
    db.session.commit()


def open_count_is_exact(campaign) -> bool:
    """Campaign.open_deliveries equals the number of its queued and sending deliveries."""
    db.session.expire_all()
    counted = db.session.execute(
        select(func.count()).where(
            Delivery.campaign_id == campaign.id, Delivery.status.in_(("queued", "sending"))
        )
    ).scalar()
    return db.session.get(Campaign, campaign.id).open_deliveries == counted
