"""dramatiq actors of the deliverability domain: one operation call each."""

import logging

from mailer.core.broker import actor
from mailer.deliverability.mailbox import MailboxError, poll_mailbox

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
