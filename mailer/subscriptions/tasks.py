"""dramatiq actors of the subscriptions domain: ids in, one operation call (they re-read state from the
database)."""

from mailer.core import counters
from mailer.core.broker import actor
from mailer.core.extensions import db
from mailer.subscriptions import confirmation as transactional
from mailer.subscriptions import expiry as retention
from mailer.subscriptions import imports, preference_links, reconfirmation, signup


@actor(queue_name="transactional", max_retries=8, min_backoff=5_000, max_backoff=600_000)
def send_confirmation_email(contact_id: int) -> None:
    """Send the double opt-in confirmation email to one contact."""
    transactional.send_confirmation_email(contact_id)


@actor(queue_name="transactional", max_retries=8, min_backoff=5_000, max_backoff=600_000)
def resend_confirmation(address_hash: str) -> None:
    """A public resend request, looked up here so the web answer's time says nothing about the address."""
    signup.resend_for_hash(address_hash)


@actor(queue_name="maintenance", max_retries=3)
def purge_unconfirmed_signups() -> None:
    """Expire sign-ups that were never confirmed (scheduled)."""
    retention.purge_unconfirmed()


@actor(queue_name="maintenance", max_retries=3)
def compact_counters() -> None:
    """Fold each counter table's deltas into one row per group (scheduled every minute): reading a total
    stays a sum over a few rows however many sign-ups, imports and sends wrote deltas."""
    for table in counters.COUNTERS:
        counters.compact(table)
        db.session.commit()


@actor(queue_name="transactional", max_retries=8, min_backoff=5_000, max_backoff=600_000)
def send_preferences_link(contact_id: int) -> None:
    """Email a fresh preference-centre link that the person asked for."""
    preference_links.send_link_email(contact_id)


@actor(queue_name="transactional", max_retries=8, min_backoff=5_000, max_backoff=600_000)
def preferences_link_for_address(address_hash: str) -> None:
    """A public request for a preference link, looked up here so the web answer's time says nothing."""
    preference_links.send_link_for_hash(address_hash)


@actor(queue_name="imports", max_retries=3, time_limit=6 * 3600 * 1000)
def run_contact_import(import_id: int) -> None:
    """Process an uploaded CSV of contacts (claimed once; never run twice)."""
    imports.run_import(import_id)


@actor(queue_name="imports", max_retries=3, time_limit=6 * 3600 * 1000)
def send_import_invitations(contact_ids: list[int]) -> None:
    """Queue the double opt-in emails of one imported batch, paced by the global send rate (5,000 at the
    default 50 a second take 100 s, hence the time limit of a run_contact_import)."""
    imports.send_invitations(contact_ids)


@actor(queue_name="imports", max_retries=3, time_limit=6 * 3600 * 1000)
def send_list_reconfirmations(contact_ids: list[int]) -> None:
    """Email one bulk batch of re-permission requests, paced by the global send rate."""
    reconfirmation.send_reconfirmations(contact_ids)


@actor(queue_name="maintenance", max_retries=3)
def expire_list_reconfirmations() -> None:
    """Remove from their lists those who did not answer a re-permission request by its deadline
    (scheduled)."""
    reconfirmation.expire_due()
