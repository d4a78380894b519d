"""Waiting for the real dramatiq worker, and surfacing actor failures as test failures."""

import threading
import time

from dramatiq.middleware import Middleware


class FailureRecorder(Middleware):
    """Counts messages in and out, and keeps every exception an actor raised (drain() re-raises it)."""

    def __init__(self):
        self.failures: list[tuple[str, BaseException]] = []
        self.enqueued = 0
        self.finished = 0
        self._lock = threading.Lock()

    def after_enqueue(self, broker, message, delay):
        with self._lock:
            self.enqueued += 1

    def after_process_message(self, broker, message, *, result=None, exception=None):
        with self._lock:
            self.finished += 1
            if exception is not None:
                self.failures.append((message.actor_name, exception))

    def after_skip_message(self, broker, message):
        with self._lock:
            self.finished += 1


def _recorder(broker) -> FailureRecorder:
    return next(m for m in broker.middleware if isinstance(m, FailureRecorder))


def drain(app, timeout_s: float = 60) -> None:
    """Wait until every message sent so far (and any it caused) is processed; raise the first actor failure.

    Polls the worker's own counters rather than joining queues, so a failing actor fails the test at once
    instead of waiting out its retry backoff.
    """
    workers = app.extensions["mailer.workers"]
    recorder = _recorder(workers.broker)
    deadline = time.monotonic() + timeout_s
    while True:
        if recorder.failures:
            name, exc = recorder.failures[0]
            raise AssertionError(f"actor {name} failed: {exc!r}") from exc
        with recorder._lock:
            if recorder.enqueued <= recorder.finished:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"worker did not finish: {recorder.enqueued} sent, {recorder.finished} done")
        time.sleep(0.005)  # polling interval of a condition check, not a synchronisation sleep
