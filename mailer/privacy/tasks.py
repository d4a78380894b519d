"""dramatiq actors of the privacy domain: ids in, one operation call
(they re-read state from the database)."""

from mailer.core.broker import actor
from mailer.privacy import mail, retention


@actor(queue_name="transactional", max_retries=8, min_backoff=5_000, max_backoff=600_000)
def send_privacy_verification(request_id: int) -> None:
    """Email the signed link that verifies a privacy request to the address on file."""
    mail.send_verification(request_id)


@actor(queue_name="transactional", max_retries=8, min_backoff=5_000, max_backoff=600_000)
def send_address_reconfirmation(request_id: int) -> None:
    """Ask a new address to confirm itself before a rectification starts using it."""
    mail.send_address_reconfirmation(request_id)


@actor(queue_name="transactional", max_retries=8, min_backoff=5_000, max_backoff=600_000)
def send_export_link(request_id: int) -> None:
    """Email a person the link to download their data."""
    mail.send_export_link(request_id)


@actor(queue_name="maintenance", max_retries=3)
def send_repermission_email(contact_id: int) -> None:
    """Ask an inactive contact whether to keep them (retention)."""
    mail.send_repermission(contact_id)


@actor(queue_name="maintenance", max_retries=3)
def privacy_deadline_reminders() -> None:
    """Warn privacy officers of requests due soon or overdue (scheduled)."""
    mail.send_deadline_reminders()


@actor(queue_name="maintenance", max_retries=3, time_limit=6 * 3600 * 1000)
def run_retention() -> None:
    """Apply every retention lifetime (scheduled)."""
    retention.run_retention()
