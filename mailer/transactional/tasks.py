"""dramatiq actors of transactional mail: ids in, one operation call."""

from mailer.core.broker import actor
from mailer.transactional import operations


@actor(queue_name="transactional", max_retries=8, min_backoff=5_000, max_backoff=600_000)
def send_transactional(message_id: int) -> None:
    """Send one accepted transactional message (a temporary failure raises, so dramatiq retries it)."""
    operations.send_message(message_id)


@actor(queue_name="maintenance", max_retries=3)
def settle_stuck_transactional() -> None:
    """Messages whose worker died mid-send become uncertain instead of staying 'sending' (scheduled)."""
    operations.mark_stuck_uncertain()
