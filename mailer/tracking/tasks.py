"""dramatiq actors of the tracking domain."""

from mailer.core.broker import actor
from mailer.tracking import events as tracking


@actor(queue_name="maintenance", max_retries=3)
def purge_tracking_events() -> None:
    """Delete tracking events older than TRACKING_RETENTION_DAYS (scheduled)."""
    tracking.purge_tracking_events()
