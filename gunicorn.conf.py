"""gunicorn settings read from the working directory (the README's commands and the container run gunicorn
from here): the Prometheus multiprocess hook, and gunicorn's own log lines in JSON when
MAILER_LOG_FORMAT=json. Everything else stays on the command line."""

import os

from mailer.core.metrics import process_exited

if os.environ.get("MAILER_LOG_FORMAT", "").strip().lower() == "json":
    # gunicorn's error and access loggers hand their lines to the root logger, where the app's JSON handler
    # writes them (mailer.core.logs); until the app has started, this handler does.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "mailer.core.logs.JsonFormatter"}},
        "handlers": {
            "json": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
        },
        "root": {"level": "INFO", "handlers": ["json"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": True},
        },
    }


def child_exit(_server, worker) -> None:
    """A web worker exited: drop its live gauges from the metrics directory (its counters keep counting)."""
    process_exited(worker.pid)
