"""dramatiq wiring: a Redis broker in production, an in-memory one (with an in-process worker) when embedded.

Actors are plain functions registered here and bound to each app's broker in init_app(), so the broker is
always configured before any actor exists (dramatiq's rule) and tests can build apps with different brokers.
"""

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Protocol

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware, TimeLimit, default_middleware
from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session, scoped_session

from mailer.core import logs

log = logging.getLogger(__name__)
BROKER_HEARTBEAT_TIMEOUT_MS = 15_000
_REGISTRY: dict[str, tuple] = {}
PENDING_KEY = "mailer.pending_messages"


def actor(**options):
    """Register a function as an actor; it is bound to the app's broker in init_app()."""

    def register(fn):
        _REGISTRY[fn.__name__] = (fn, options)
        return fn

    return register


class AppContextMiddleware(Middleware):
    """Run every message inside an app context, so actors can use the database and config."""

    def __init__(self, app):
        self.app = app
        self._local = threading.local()

    def before_process_message(self, broker, message):
        ctx = self.app.app_context()
        ctx.push()
        self._local.ctx = ctx

    def _pop(self):
        ctx = getattr(self._local, "ctx", None)
        if ctx is not None:
            self._local.ctx = None
            ctx.pop()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self._pop()

    def after_skip_message(self, broker, message):
        self._pop()


class LogContextMiddleware(Middleware):
    """Carry the log ids (request, campaign, delivery) known when a job is queued into the worker running it.

    They travel in the message's options (`log_context`, ids only), are set while the job runs, so its log
    lines carry them, and pass on to the jobs it queues. A retried or delayed message keeps the ids it was
    first queued with.
    """

    OPTION = "log_context"

    def __init__(self):
        self._local = threading.local()

    def before_enqueue(self, broker, message, delay):
        if self.OPTION not in message.options:
            context = logs.current_context()
            if context:
                message.options[self.OPTION] = context

    def before_process_message(self, broker, message):
        carried = message.options.get(self.OPTION)
        self._local.tokens = logs.bind_context(carried) if isinstance(carried, dict) else []

    def _unbind(self):
        tokens = getattr(self._local, "tokens", None)
        if tokens:
            logs.unbind_context(tokens)
        self._local.tokens = None

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self._unbind()

    def after_skip_message(self, broker, message):
        self._unbind()


class ProcessTimeLimit(TimeLimit):
    """dramatiq's TimeLimit with one watcher thread per process: the stock middleware starts a never-ending
    thread for every broker, and a process that builds many apps (the test suite) would pile them up."""

    _shared_manager = None
    _lock = threading.Lock()

    def __init__(self, **options):
        super().__init__(**options)
        with ProcessTimeLimit._lock:
            if ProcessTimeLimit._shared_manager is None:
                ProcessTimeLimit._shared_manager = self.manager
            self.manager = ProcessTimeLimit._shared_manager

    def after_process_boot(self, broker):
        with ProcessTimeLimit._lock:
            if not self.manager.is_alive():
                super().after_process_boot(broker)


class OneMessagePerThread(Middleware):
    """Prefetch at most one message per worker thread (dramatiq's default is two): a worker holds no queue of
    batches that others could be sending, so a killed worker strands nothing but what it was running."""

    def before_worker_boot(self, broker, worker):
        # An operator's explicit choice wins; dramatiq reads this variable by its lower-case name.
        if not os.environ.get("dramatiq_queue_prefetch"):  # noqa: SIM112
            worker.queue_prefetch = max(1, worker.worker_threads)


class Stoppable(Protocol):
    """Something the app stops with its worker (the sending heartbeat)."""

    def stop(self) -> None: ...


@dataclass
class Workers:
    """The app's broker, its bound actors and, in embedded mode, the in-process worker."""

    broker: dramatiq.Broker
    actors: dict[str, dramatiq.Actor] = field(default_factory=dict)
    worker: dramatiq.Worker | None = None
    # mailer.delivery.heartbeat.Heartbeat once this process sends campaign mail.
    heartbeat: Stoppable | None = None

    def start_worker(self, threads: int) -> dramatiq.Worker:
        """Start an in-process worker consuming every queue."""
        self.worker = dramatiq.Worker(self.broker, worker_threads=threads, worker_timeout=100)
        self.worker.start()
        return self.worker

    def queue_depths(self) -> dict[tuple[str, str], int]:
        """Messages per (queue, state): "waiting" to be fetched, "delayed" (a retry or a later start)."""
        depths = {}
        for queue in sorted({actor.queue_name for actor in self.actors.values()}):
            if isinstance(self.broker, RedisBroker):
                client, prefix = self.broker.client, f"{self.broker.namespace}:{queue}"
                depths[(queue, "waiting")] = int(client.llen(prefix))
                depths[(queue, "delayed")] = int(client.hlen(f"{prefix}.DQ.msgs"))
            elif isinstance(self.broker, StubBroker):
                stub_queues = self.broker.queues
                depths[(queue, "waiting")] = stub_queues[queue].qsize() if queue in stub_queues else 0
                delayed = f"{queue}.DQ"
                depths[(queue, "delayed")] = stub_queues[delayed].qsize() if delayed in stub_queues else 0
        return depths

    def stop_worker(self) -> None:
        """Stop the in-process worker, letting running messages finish."""
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        if self.heartbeat is not None:
            self.heartbeat.stop()
            self.heartbeat = None


def init_app(app) -> Workers:
    """Build the broker for this app and bind every registered actor to it."""
    broker: dramatiq.Broker
    if app.config["REDIS_URL"]:
        # A worker that stops heartbeating for 15 s is dead to dramatiq and its unacknowledged messages go
        # back to the queue; maintenance (which does that) runs on 1 % of broker calls instead of 0.1 %.
        broker = RedisBroker(
            url=app.config["REDIS_URL"],
            namespace=f"{app.config['REDIS_NAMESPACE']}-dramatiq",
            heartbeat_timeout=BROKER_HEARTBEAT_TIMEOUT_MS,
            maintenance_chance=10_000,
        )
        broker.add_middleware(OneMessagePerThread())
    else:
        broker = StubBroker(
            middleware=[ProcessTimeLimit() if m is TimeLimit else m() for m in default_middleware]
        )
        broker.emit_after("process_boot")
    broker.add_middleware(AppContextMiddleware(app))
    broker.add_middleware(LogContextMiddleware())
    dramatiq.set_broker(broker)

    workers = Workers(broker)
    for name, (fn, options) in _REGISTRY.items():
        workers.actors[name] = dramatiq.actor(broker=broker, actor_name=name, **options)(fn)
    app.extensions["mailer.workers"] = workers
    return workers


def enqueue(name: str, *args) -> None:
    """Send a message to an actor now (use only when nothing uncommitted depends on it)."""
    current_app.extensions["mailer.workers"].actors[name].send(*args)


def enqueue_after_commit(session: Session | scoped_session, name: str, *args) -> None:
    """Send a message once the session's transaction commits, so the worker sees the rows it refers to."""
    session.info.setdefault(PENDING_KEY, []).append((name, args))


@event.listens_for(Session, "after_commit")
def _send_pending(session):
    pending = session.info.pop(PENDING_KEY, None)
    for name, args in pending or ():
        enqueue(name, *args)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session, previous_transaction):
    if previous_transaction.parent is None:
        session.info.pop(PENDING_KEY, None)
