"""gunicorn settings read from the working directory (the README's commands and the container run gunicorn
from here): the Prometheus multiprocess hook. Everything else stays on the command line."""

from mailer.core.metrics import process_exited


def child_exit(_server, worker) -> None:
    """A web worker exited: drop its live gauges from the metrics directory (its counters keep counting)."""
    process_exited(worker.pid)
