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

from mailer.core import after_commit, logs

log = logging.getLogger(__name__)
BROKER_HEARTBEAT_TIMEOUT_MS = 15_000
_REGISTRY: dict[str, tuple] = {}
PENDING_KEY = "mailer.pending_messages"
# How long a coalesced actor's "a message is waiting" mark lasts at most (should its message be lost, the next
# request after this sends a new one; the scheduler's sweeps do not depend on it).
COALESCE_EXPIRY_SECONDS = 120


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
    # The in-memory broker's coalesced actors with a message waiting (Redis keeps this in a key instead).
    waiting: set[str] = field(default_factory=set)
    _waiting_lock: threading.Lock = field(default_factory=threading.Lock)

    def _waiting_key(self, name: str) -> str:
        return f"{getattr(self.broker, 'namespace', 'mailer')}:coalesced:{name}"

    def claim_waiting(self, name: str) -> bool:
        """Mark the actor as having a message waiting; True when none was (the caller sends one)."""
        if isinstance(self.broker, RedisBroker):
            key = self._waiting_key(name)
            return bool(self.broker.client.set(key, 1, nx=True, ex=COALESCE_EXPIRY_SECONDS))
        with self._waiting_lock:
            if name in self.waiting:
                return False
            self.waiting.add(name)
            return True

    def release_waiting(self, name: str) -> None:
        """The actor's waiting message has started: the next request sends a new one."""
        if isinstance(self.broker, RedisBroker):
            self.broker.client.delete(self._waiting_key(name))
            return
        with self._waiting_lock:
            self.waiting.discard(name)

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
    """Send a message once the session's transaction commits, so the worker sees the rows it refers to
    (never for a savepoint rolled back: see core.after_commit)."""
    after_commit.defer(session, PENDING_KEY, (name, args))


def enqueue_coalesced_after_commit(session: Session | scoped_session, name: str) -> None:
    """enqueue_after_commit for an actor that drains whatever is waiting (it takes no arguments): sent only
    when no message of it is waiting yet, so a burst of requests queues one message, not one each. The actor
    calls started_coalesced() first thing; anything committed before that is seen by its run."""
    after_commit.defer(session, PENDING_KEY, (name, _COALESCED))


def started_coalesced(name: str) -> None:
    """Called by a coalesced actor as it starts: a request committing from now on sends a new message."""
    current_app.extensions["mailer.workers"].release_waiting(name)


_COALESCED = object()


@event.listens_for(Session, "after_commit")
def _send_pending(session):
    # Only at the real commit (not a savepoint's release), so a worker never runs before the rows exist.
    for name, args in after_commit.committed(session, PENDING_KEY):
        if args is _COALESCED:
            if current_app.extensions["mailer.workers"].claim_waiting(name):
                enqueue(name)
        else:
            enqueue(name, *args)
