"""Prometheus metrics: the counters and histograms every process (gunicorn workers, dramatiq workers, the
scheduler, the bounce listener) adds to, and the scrape that sums them.

With `PROMETHEUS_MULTIPROC_DIR` set (before the process starts) prometheus_client keeps each process's values
in files there, and a scrape reads every file: counters from gunicorn and dramatiq workers add up, also for
processes that have exited. The directory must be shared by the processes of one host and emptied when the
deployment starts (never while it runs). Without it, the values are this process's own (development, tests).

Labels never carry personal data: relay names, campaign ids, kinds and outcomes only. Lower layers call the
small functions below; gauges that are computed from the database or Redis at scrape time are passed to
`exposition` by the door that serves `/metrics`.
"""

import collections
import os
from collections.abc import Callable, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

MESSAGES = Counter(
    "mailer_messages",
    "Campaign messages by outcome at the relay: sent, failed, bounced, deferred (a temporary refusal or "
    "a relay wait, retried later), uncertain.",
    ["relay", "campaign", "outcome"],
)
DELIVERY_SECONDS = Histogram(
    "mailer_delivery_seconds",
    "Seconds from handing a campaign message to the relay until its answer.",
    ["relay"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
RECIPIENT_REQUESTS = Counter(
    "mailer_recipient_requests",
    "Recipient requests answered: open pixel, click redirect, unsubscribe (one-click POST or page).",
    ["kind"],
)
RECIPIENT_SECONDS = Histogram(
    "mailer_recipient_request_seconds",
    "Seconds the app took to answer a recipient request (open, click, unsubscribe).",
    ["kind"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
REPORTS = Counter(
    "mailer_inbound_reports",
    "Bounce and complaint reports processed, by source (smtp listener, mailbox, provider webhook), kind "
    "(hard, soft, policy, complaint, or none) and status (recorded, duplicate, unmatched, ignored, refused); "
    "also emails to a mailto: unsubscribe address (kind unsubscribe; unsubscribed, already, refused).",
    ["source", "kind", "status"],
)
WEBHOOK_EVENTS = Counter(
    "mailer_webhook_events",
    "Provider webhook events received, by provider and outcome (recorded, duplicate, unmatched, refused).",
    ["provider", "outcome"],
)
LEDGER_APPENDS = Counter(
    "mailer_ledger_appends", "Events appended to the consent ledger, by action.", ["action"]
)


def message_outcome(relay: str, campaign_id: int | None, outcome: str, seconds: float | None = None) -> None:
    """One campaign message's answer from the relay (and how long it took, when it was handed over)."""
    MESSAGES.labels(relay, str(campaign_id or ""), outcome).inc()
    if seconds is not None:
        DELIVERY_SECONDS.labels(relay).observe(seconds)


_recipient_children: dict[str, tuple] = {}  # the labelled series per kind, looked up once (the hot path)


def recipient_request(kind: str, seconds: float) -> None:
    """One answered open, click or unsubscribe request and its duration."""
    children = _recipient_children.get(kind)
    if children is None:
        children = _recipient_children.setdefault(
            kind, (RECIPIENT_REQUESTS.labels(kind), RECIPIENT_SECONDS.labels(kind))
        )
    children[0].inc()
    children[1].observe(seconds)


def report_processed(source: str, kind: str | None, status: str) -> None:
    """One bounce or complaint report handled (whatever door it came through)."""
    REPORTS.labels(source, kind or "none", status).inc()


def webhook_event(provider: str, outcome: str, count: int = 1) -> None:
    """Provider webhook events handled (a refused request counts as one "refused")."""
    WEBHOOK_EVENTS.labels(provider, outcome).inc(count)


def ledger_appended(actions: Iterable[str]) -> None:
    """Events appended to the consent ledger (counted after the append's statement ran)."""
    for action, count in collections.Counter(actions).items():  # one increment per action, not per event
        LEDGER_APPENDS.labels(action).inc(count)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def process_exited(pid: int) -> None:
    """A worker process is gone (gunicorn's child_exit hook): its live gauges no longer count. Its counters
    stay in the directory and keep adding up, as counters must."""
    if multiprocess_dir():
        prometheus_multiprocess.mark_process_dead(pid)


class ScrapeGauges(Collector):
    """Gauges computed at scrape time: each source returns {name: (help, [(labels, value), …])}."""

    def __init__(self, sources: Iterable[Callable[[], dict[str, tuple[str, list[tuple[dict, float]]]]]]):
        self.sources = list(sources)

    def collect(self) -> Iterable[Metric]:
        for source in self.sources:
            for name, (help_text, samples) in source().items():
                label_names = sorted(samples[0][0]) if samples else []
                family = GaugeMetricFamily(name, help_text, labels=label_names)
                for labels, value in samples:
                    family.add_metric([labels[n] for n in label_names], value)
                yield family


def exposition(gauges: ScrapeGauges) -> tuple[bytes, str]:
    """The text every process's counters sum to, plus this scrape's gauges; (body, content type)."""
    registry = CollectorRegistry()
    if multiprocess_dir():
        prometheus_multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    gauge_registry = CollectorRegistry()
    gauge_registry.register(gauges)
    return body + generate_latest(gauge_registry), CONTENT_TYPE_LATEST
