"""dramatiq actors of the campaigns domain: sending (through the delivery engine), scheduled starts,
recovery and operator alerts."""

from mailer.campaigns import ab_testing, audience_count, composition, sending
from mailer.campaigns import alerts as campaign_alerts
from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns import relay_wait as relay_wait_alerts
from mailer.core.broker import actor
from mailer.core.logs import log_context


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
    with log_context(campaign_id=campaign_id):
        sending.plan_campaign(campaign_id)


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
    with log_context(campaign_id=campaign_id):
        sending.send_batch(campaign_id, batch)


@actor(queue_name="campaigns", max_retries=5)
def finish_campaign_if_done(campaign_id: int) -> None:
    """Mark a campaign sent when every delivery is final."""
    with log_context(campaign_id=campaign_id):
        sending.finish_if_done(campaign_id)


@actor(queue_name="maintenance", max_retries=3)
def start_due_campaigns() -> None:
    """Start scheduled campaigns whose time has come (scheduled every minute)."""
    campaigns.start_due_campaigns()


# Scheduled every few seconds: a stale message (workers were down) is skipped, the next one is on its way.
@actor(queue_name="maintenance", max_retries=0, max_age=60_000)
def recover_stuck_deliveries() -> None:
    """Release a dead worker's deliveries (uncertain if at the relay); re-queue stalled campaigns."""
    sending.recover(scheduled=True)


# Retried for hours with growing gaps: the alert matters most while the relay is down.
@actor(queue_name="transactional", max_retries=24, min_backoff=5_000, max_backoff=900_000)
def send_campaign_alert(event_id: int, staff_id: int) -> None:
    """Email one recorded campaign alert to one owner or admin (never twice)."""
    campaign_alerts.email_alert(event_id, staff_id)


@actor(queue_name="maintenance", max_retries=0, max_age=120_000)
def alert_relay_waits() -> None:
    """Note when campaigns start and stop waiting for the relay; alert once per long wait (scheduled)."""
    relay_wait_alerts.check_relay_waits()


@actor(queue_name="transactional", max_retries=3, min_backoff=5_000)
def send_campaign_test(campaign_id: int, addresses: list[str]) -> None:
    """Send a campaign's test messages."""
    composition.send_test_messages(campaign_id, addresses)


@actor(queue_name="maintenance", max_retries=0, max_age=120_000)
def decide_ab_tests() -> None:
    """Choose the winner of each A/B test whose wait is over, by clicks; the rest then gets it (scheduled)."""
    ab_testing.decide_due_tests()


@actor(queue_name="imports", max_retries=3, time_limit=3_600_000)
def count_compliance(campaign_id: int, token: str) -> None:
    """Count a large campaign's compliance preview in the background, saving progress as it goes."""
    with log_context(campaign_id=campaign_id):
        audience_count.run_count(campaign_id, token)
