"""dramatiq actors of bulk actions: a job id in, the operation re-reads everything from the database."""

from mailer.bulk import operations
from mailer.core.broker import actor


@actor(queue_name="imports", max_retries=3, time_limit=6 * 3600 * 1000)
def run_bulk_job(job_id: int) -> None:
    """Run one bulk action to the end in batches; a retry continues after the last committed batch."""
    operations.run_job(job_id)
