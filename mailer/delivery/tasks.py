"""dramatiq actors of the sending engine: ids in, one engine call (they re-read state from the database)."""

from mailer.core.broker import actor
from mailer.delivery import engine


# Its own queue and a higher priority: planning must never wait behind the batches it has queued.
@actor(
    queue_name="campaign_planning",
    priority=0,
    max_retries=20,
    min_backoff=1_000,
    max_backoff=300_000,
    time_limit=3_600_000,
)
def plan_campaign(campaign_id: int) -> None:
    """Create the campaign's deliveries page by page and queue one batch message per page."""
    engine.plan_campaign(campaign_id)


@actor(
    queue_name="campaigns",
    priority=10,
    max_retries=20,
    min_backoff=1_000,
    max_backoff=300_000,
    time_limit=3_600_000,
)  # a lower priority than planning: a worker's free thread plans first
def send_batch(campaign_id: int, batch: int) -> None:
    """Send one batch of a campaign (claims its deliveries atomically, so a redelivery cannot send twice)."""
    engine.send_batch(campaign_id, batch)


@actor(queue_name="campaigns", max_retries=5)
def finish_campaign_if_done(campaign_id: int) -> None:
    """Mark a campaign sent when every delivery is final."""
    engine.finish_if_done(campaign_id)
