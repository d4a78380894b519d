"""`GET /metrics` for Prometheus: every process's counters (core.metrics) plus gauges read at scrape time.

Open only to clients in MAILER_METRICS_ALLOW (the address as the proxy settings resolve it) or presenting
MAILER_METRICS_TOKEN as a bearer token; with neither configured the endpoint does not exist (404).
"""

import hmac
import ipaddress

from flask import Response, abort, current_app, request

from mailer.core import metrics
from mailer.core.extensions import limiter
from mailer.deliverability.webhooks import waiting_events
from mailer.privacy.requests import register_counts
from mailer.public.blueprint import bp


def _allowed() -> bool:
    """404 when metrics are off; True for an allowed network or the right token; False otherwise."""
    networks, token = current_app.config["MAILER_METRICS_ALLOW"], current_app.config["MAILER_METRICS_TOKEN"]
    if not networks and not token:
        abort(404)
    given = request.headers.get("Authorization", "")
    if token and given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip(), token):
        return True
    try:
        client = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(client in ipaddress.ip_network(network, strict=False) for network in networks)


def _queue_gauges() -> dict:
    depths = current_app.extensions["mailer.workers"].queue_depths()
    samples = [({"queue": queue, "state": state}, float(n)) for (queue, state), n in depths.items()]
    return {"mailer_queue_messages": ("Messages in each broker queue, waiting or delayed.", samples)}


def _privacy_gauges() -> dict:
    counts = register_counts()
    return {
        "mailer_privacy_requests_open": ("Data-subject requests not yet closed.", [({}, float(counts.open))]),
        "mailer_privacy_requests_overdue": (
            "Open data-subject requests past their (extended) due date.",
            [({}, float(counts.overdue))],
        ),
    }


def _webhook_gauges() -> dict:
    waiting = waiting_events()
    return {
        "mailer_provider_events_waiting": (
            "Provider webhook events stored and not yet acted on by a worker, per provider.",
            [({"provider": provider}, float(count)) for provider, (count, _) in waiting.items()],
        ),
        "mailer_provider_events_oldest_waiting_seconds": (
            "Age of the oldest provider webhook event not yet acted on (0 when none waits), per provider.",
            [({"provider": provider}, age) for provider, (_, age) in waiting.items()],
        ),
    }


@bp.get("/metrics")
@limiter.exempt
def prometheus_metrics():
    """The Prometheus text format; 403 outside the allowed networks without the token."""
    if not _allowed():
        headers = {"WWW-Authenticate": "Bearer"} if current_app.config["MAILER_METRICS_TOKEN"] else {}
        return Response("Metrics are not available from here.\n", 403, headers, mimetype="text/plain")
    body, content_type = metrics.exposition(
        metrics.ScrapeGauges([_queue_gauges, _privacy_gauges, _webhook_gauges])
    )
    return Response(body, 200, content_type=content_type)
