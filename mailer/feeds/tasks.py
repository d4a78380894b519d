"""dramatiq actors of feed campaigns: the scheduler's look for due feeds, and one feed's run."""

from mailer.core.broker import actor, enqueue
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.feeds import operations
from mailer.feeds.models import Feed


# Scheduled every minute; each due feed is claimed (moved on to its next run) before its run is queued.
@actor(queue_name="maintenance", max_retries=3, min_backoff=1_000, max_age=300_000)
def run_due_feeds() -> None:
    """Queue a run of every feed whose scheduled time has come."""
    for feed_id in operations.claim_due(utcnow()):
        enqueue("run_feed", feed_id)


# Not retried: a failed fetch is recorded as the run's error and the next scheduled run tries again.
@actor(queue_name="campaign_planning", max_retries=0, time_limit=300_000)
def run_feed(feed_id: int, manual: bool = False) -> None:
    """Fetch one feed and send its new items as a campaign (or record that there were none, or the error)."""
    feed = db.session.get(Feed, feed_id)
    if feed is not None:
        operations.run_feed(feed, manual=manual)
