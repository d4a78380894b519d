"""Provider event webhooks: which providers are configured, and receiving one request (verify, then store
its events durably in one statement for the worker). See provider_events for what an event does."""

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select

from mailer.core import metrics
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.deliverability import provider_mailgun, provider_postmark, provider_sendgrid, provider_ses
from mailer.deliverability.models import ProviderEventReceipt
from mailer.deliverability.provider_events import (
    PENDING,
    ProviderActivity,
    WebhookRefused,
    WebhookRequest,
    WebhookResult,
    provider_activity,
    store_events,
)

PROVIDERS = {
    module.NAME: module for module in (provider_ses, provider_sendgrid, provider_postmark, provider_mailgun)
}
SETTINGS = {
    "ses": "SES_SNS_TOPIC_ARNS",
    "sendgrid": "SENDGRID_WEBHOOK_PUBLIC_KEY",
    "postmark": "POSTMARK_WEBHOOK_TOKEN or POSTMARK_WEBHOOK_PASSWORD",
    "mailgun": "MAILGUN_WEBHOOK_SIGNING_KEY",
}
TITLES = {"ses": "Amazon SES (via SNS)", "sendgrid": "SendGrid", "postmark": "Postmark", "mailgun": "Mailgun"}


def receive(provider: str, request: WebhookRequest) -> WebhookResult:
    """Verify one webhook request from a provider and keep its new events for the worker (which acts on them
    within seconds); WebhookRefused says why not."""
    module = PROVIDERS.get(provider)
    if module is None:
        raise WebhookRefused(404, f"There is no provider webhook called {provider[:40]!r} here.")
    if not module.configured(current_app.config):
        raise WebhookRefused(404, f"{TITLES[provider]} webhooks are not configured on this server.")
    try:
        events, note = module.receive(request)
    except WebhookRefused:
        metrics.webhook_event(provider, "refused")
        raise
    result = store_events(provider, events)
    for outcome, count in result.counts.items():
        metrics.webhook_event(provider, outcome, count)
    if note:
        result.detail = note
    return result


@dataclass(frozen=True)
class ProviderSetup:
    """One row of the Deliverability page: a provider, whether it is configured, and its last event."""

    name: str
    title: str
    configured: bool
    activity: ProviderActivity | None


def provider_setups() -> list[ProviderSetup]:
    activity = provider_activity()
    return [
        ProviderSetup(name, TITLES[name], module.configured(current_app.config), activity.get(name))
        for name, module in PROVIDERS.items()
    ]


def waiting_events() -> dict[str, tuple[int, float]]:
    """Per provider: the events stored and not yet acted on by a worker (queue provider_events), and the age
    in seconds of the oldest of them (0 when none wait): the backlog an operator watches."""
    receipt = ProviderEventReceipt
    now: datetime = utcnow()
    waiting = dict.fromkeys(PROVIDERS, (0, 0.0))
    for provider, count, oldest in db.session.execute(
        select(receipt.provider, func.count(), func.min(receipt.received_at))
        .where(receipt.outcome == PENDING)
        .group_by(receipt.provider)
    ):
        oldest_at = oldest if isinstance(oldest, datetime) else datetime.fromisoformat(str(oldest))
        waiting[provider] = (int(count), max(0.0, (now - oldest_at).total_seconds()))
    return waiting
