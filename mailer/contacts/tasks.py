"""dramatiq actors of the contacts domain: ids in, one operation call."""

from mailer.contacts import imports
from mailer.core.broker import actor


@actor(queue_name="imports", max_retries=3, time_limit=6 * 3600 * 1000)
def run_contact_import(import_id: int) -> None:
    """Process an uploaded CSV of contacts (claimed once; never run twice)."""
    imports.run_import(import_id)
