"""dramatiq actors of the deliverability domain: one operation call each."""

import logging

from mailer.core import metrics
from mailer.core.broker import actor, started_coalesced
from mailer.core.extensions import db
from mailer.deliverability.domains import enforce_all_rate_limits
from mailer.deliverability.mailbox import MailboxError, poll_mailbox
from mailer.deliverability.provider_events import process_all_pending

log = logging.getLogger(__name__)


@actor(queue_name="maintenance", max_retries=0, time_limit=15 * 60 * 1000)
def poll_bounce_mailbox() -> None:
    """Take the reports waiting in the bounce mailbox (scheduled every BOUNCE_IMAP_POLL_SECONDS).

    No retries: the next scheduled poll is the retry, and a message not moved stays in the folder until then.
    """
    try:
        poll_mailbox()
    except MailboxError as exc:
        log.warning("Bounce mailbox not polled: %s", exc)


@actor(queue_name="provider_events", max_retries=3, time_limit=15 * 60 * 1000)
def process_provider_events() -> None:
    """Act on the provider webhook events waiting in their receipts, 500 per transaction (enqueued by each
    request that stored new events unless one was already waiting, and by the scheduler as a sweep after a
    worker died mid-batch)."""
    started_coalesced("process_provider_events")  # events stored from now on ask for another run
    result = process_all_pending()
    for provider, counts in result.by_provider.items():
        for outcome, count in counts.items():
            metrics.webhook_event(provider, outcome, count)


# Scheduled every minute: a stale message (workers were down) is skipped, the next one is on its way.
@actor(queue_name="maintenance", max_retries=0, max_age=120_000)
def check_sending_rates() -> None:
    """Pause the sending campaigns of a domain whose bounce or complaint rate is above its limit."""
    enforce_all_rate_limits()
    db.session.commit()
