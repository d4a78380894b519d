"""Each sending worker process has an id and a heartbeat row (send_workers) that a thread of its own
refreshes, so recovery tells a dead worker from a slow one within seconds.

The heartbeat lives in the database, not in Redis: a Redis restart must not make every worker look dead.
"""

import logging
import os
import socket
import threading
import uuid

from flask import current_app
from sqlalchemy import insert, update
from sqlalchemy.exc import SQLAlchemyError

from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery.models import SendWorker

log = logging.getLogger(__name__)
_LOCK = threading.Lock()


class Heartbeat:
    """The send_workers row of this process, refreshed every few seconds until stop()."""

    def __init__(self, app):
        self.app = app
        self.pid = os.getpid()
        self.id = f"{socket.gethostname()[:24]}-{self.pid}-{uuid.uuid4().hex[:8]}"[:40]
        self.interval = max(0.5, app.config["SEND_WORKER_DEAD_AFTER_SECONDS"] / 4)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="send-heartbeat", daemon=True)

    def start(self) -> None:
        """Write the first heartbeat before any delivery is claimed under this id, then keep it fresh."""
        if not self.beat():
            raise RuntimeError("could not register this sending worker in the database")
        self.thread.start()

    def beat(self) -> bool:
        """Refresh (or create) the row; False when the database is unreachable (the worker keeps trying)."""
        with self.app.app_context():
            try:
                now = utcnow()
                touched = (
                    db.session.connection()
                    .execute(update(SendWorker).where(SendWorker.id == self.id).values(heartbeat_at=now))
                    .rowcount
                )
                if not touched:  # first beat, or recovery removed us after an outage: we are alive after all
                    db.session.execute(
                        insert(SendWorker).values(
                            id=self.id,
                            host=socket.gethostname()[:255],
                            pid=self.pid,
                            started_at=now,
                            heartbeat_at=now,
                        )
                    )
                db.session.commit()
                return True
            except SQLAlchemyError as exc:
                db.session.rollback()
                log.warning("Sending worker heartbeat not written (%s)", exc.__class__.__name__)
                return False

    def _loop(self) -> None:
        wait = self.interval
        while not self.stopping.wait(wait):
            wait = self.interval if self.beat() else 0.5  # after an outage, beat again as soon as it is over

    def stop(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)


def worker_id() -> str:
    """This process's sending-worker id; starts its heartbeat on first use (and again after a fork)."""
    workers = current_app.extensions["mailer.workers"]
    with _LOCK:
        heartbeat = workers.heartbeat
        if heartbeat is None or heartbeat.pid != os.getpid() or heartbeat.stopping.is_set():
            heartbeat = Heartbeat(current_app.app_context().app)  # the app itself, not the proxy
            heartbeat.start()
            workers.heartbeat = heartbeat
    return heartbeat.id
