"""dramatiq actors of the campaigns domain: scheduled starts, recovery and operator alerts."""

from mailer.campaigns import alerts as campaign_alerts
from mailer.campaigns import composition
from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns import relay_wait as relay_wait_alerts
from mailer.core.broker import actor


@actor(queue_name="maintenance", max_retries=3)
def start_due_campaigns() -> None:
    """Start scheduled campaigns whose time has come (scheduled every minute)."""
    campaigns.start_due_campaigns()


# Scheduled every few seconds: a stale message (workers were down) is skipped, the next one is on its way.
@actor(queue_name="maintenance", max_retries=0, max_age=60_000)
def recover_stuck_deliveries() -> None:
    """Release a dead worker's deliveries (uncertain if they were at the relay); re-queue stalled campaigns."""
    campaigns.recover_stuck(scheduled=True)


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
