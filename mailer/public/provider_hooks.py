"""Provider event webhooks: POST /hooks/providers/<provider> (ses, sendgrid, postmark, mailgun).

A recipient-side door like the RFC 8058 one-click POST: a provider's server calls it without a session or a
CSRF token, and the proof is the provider's signature (or its configured secret), checked by the
deliverability domain. This door only caps the body, builds a WebhookRequest and answers in JSON.
"""

import logging

from flask import current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from mailer.core.extensions import csrf, limiter
from mailer.core.web import reads_own_body
from mailer.deliverability import webhooks
from mailer.deliverability.provider_events import WebhookRefused, WebhookRequest
from mailer.public.blueprint import bp

log = logging.getLogger(__name__)


def webhook_limit() -> str:
    return current_app.config["PROVIDER_WEBHOOK_RATE_LIMIT"]


def _refused(status: int, message: str, provider: str):
    log.warning("Provider webhook %s refused (%s): %s", provider[:40], status, message)
    return jsonify(status="refused", error=message), status


@bp.post("/hooks/providers/<provider>")
@reads_own_body  # JSON bodies and its own size cap, answered in JSON
@csrf.exempt  # providers post without cookies; the signature is the proof
@limiter.limit(webhook_limit)
def provider_webhook(provider: str):
    """Verify a provider's event POST and act on it (bounces, complaints, deliveries, unsubscribes)."""
    limit = current_app.config["PROVIDER_WEBHOOK_MAX_BYTES"]
    request.max_content_length = limit
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return _refused(413, f"The request is larger than {limit} bytes: nothing was recorded.", provider)
    auth = request.authorization
    incoming = WebhookRequest(
        body=body,
        headers=request.headers,
        args=request.args,
        username=auth.username if auth else None,
        password=auth.password if auth else None,
    )
    try:
        result = webhooks.receive(provider, incoming)
    except WebhookRefused as exc:
        return _refused(exc.status, exc.message, provider)
    return jsonify(status="ok", events=result.counts, detail=result.detail or "no events")
