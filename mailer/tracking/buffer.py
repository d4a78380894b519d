"""The tracking event buffer: hits are kept in memory and written in batches by a background thread.

Per process (re-created after a fork), started on the first hit and idle-stopped when nothing comes in.
What becomes a TrackingEvent is decided by mailer.tracking.recording. atexit flushes the rest, so a
normal shutdown of the web process loses nothing.
"""

import atexit
import logging
import os
import threading
from datetime import datetime

from flask import Flask

from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.process_local import process_local
from mailer.tracking.recording import CLICK_SETTLE, TrackedHit, settle_clicks, write_hits

log = logging.getLogger(__name__)
IDLE_TICKS_BEFORE_STOP = 30
MAX_PENDING = (
    500_000  # hits kept while the database is unreachable; beyond that the oldest are dropped (logged)
)


class EventBuffer:
    """Hits waiting to be written, and the thread that writes them."""

    def __init__(self, app: Flask):
        self.app = app
        self.interval = float(app.config["TRACKING_FLUSH_SECONDS"])
        self.batch_size = max(1, int(app.config["TRACKING_BATCH_SIZE"]))
        self.pid = os.getpid()
        self._hits: list[TrackedHit] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        # The span of this process's written clicks not yet counted as activity (see settle_clicks).
        self._unsettled: tuple[datetime, datetime] | None = None
        atexit.register(self._flush_at_exit)

    def add(self, hit: TrackedHit) -> None:
        """Queue a hit (microseconds); wakes the writer early when a batch is full."""
        with self._lock:
            self._hits.append(hit)
            pending = len(self._hits)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="tracking-writer", daemon=True)
                self._thread.start()
        if pending >= self.batch_size:
            self._wake.set()

    def pending(self) -> int:
        """Hits not yet written."""
        return len(self._hits)

    def flush(self, settle: bool = True) -> int:
        """Write every queued hit now and (with `settle`) count settled human clicks as activity; returns how
        many hits were processed (kept for a retry if the database fails)."""
        with self._flush_lock:
            with self._lock:
                hits, self._hits = self._hits, []
            done = 0
            try:
                with self.app.app_context():
                    now = utcnow()
                    for start in range(0, len(hits), self.batch_size):
                        batch = hits[start : start + self.batch_size]
                        write_hits(batch, now)
                        done = start + self.batch_size
                        self._note_clicks(batch)
                    if settle:
                        self._settle(now)
            except Exception:
                if self._failing:  # the traceback was logged when the failures began
                    log.warning("writing %d tracking events failed again; will retry", len(hits) - done)
                else:
                    log.exception("writing %d tracking events failed; will retry", len(hits) - done)
                self._failing = True
                self._requeue(hits[done:])
                return min(done, len(hits))
            if self._failing:
                log.warning("tracking events are being written again")
                self._failing = False
            return len(hits)

    def _note_clicks(self, hits: list[TrackedHit]) -> None:
        """Remember the span of clicks just written, to count them as activity once they are settled."""
        times = [h.at for h in hits if h.kind == "click" and h.contact_public_id is not None]
        if times:
            first, last = min(times), max(times)
            if self._unsettled is not None:
                first, last = min(first, self._unsettled[0]), max(last, self._unsettled[1])
            self._unsettled = (first, last)

    def _settle(self, now: datetime) -> None:
        """Written human clicks whose burst window has closed now count as activity."""
        if self._unsettled is None:
            return
        since, last = self._unsettled
        until = now - CLICK_SETTLE
        if until <= since:
            return
        try:
            settle_clicks(since, until)
        except Exception:  # activity is best effort; the events themselves are written
            db.session.rollback()
            log.warning("counting settled clicks as activity failed; they are not counted")
        self._unsettled = None if until > last else (until, last)

    def _requeue(self, hits: list[TrackedHit]) -> None:
        with self._lock:
            self._hits[:0] = hits
            overflow = len(self._hits) - MAX_PENDING
            if overflow > 0:
                del self._hits[:overflow]
                log.error("tracking buffer full: dropped the %d oldest events", overflow)

    def _run(self) -> None:
        idle = 0
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self.flush():
                idle = 0
                continue
            idle += 1
            if idle >= IDLE_TICKS_BEFORE_STOP:
                with self._lock:
                    if not self._hits and self._unsettled is None:
                        self._thread = None
                        return

    def _flush_at_exit(self) -> None:
        """Write what is left; first waits for a flush in progress (its hits are no longer in the queue, and
        the writer thread, a daemon, would be stopped mid-write by the interpreter's exit). Clicks of the
        last second are not counted as activity: the database may already be gone, and logging closed."""
        if os.getpid() == self.pid:
            self.flush(settle=False)


def buffer_for(app: Flask) -> EventBuffer:
    """This process's buffer for an app (a forked worker gets its own)."""
    return process_local(app, "mailer.tracking_buffer", EventBuffer)
