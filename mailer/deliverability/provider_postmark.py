"""Postmark's webhooks (Bounce, SpamComplaint, Delivery, SubscriptionChange).

Postmark does not sign its webhooks; it sends the basic-auth credentials and custom headers written into the
webhook's URL and settings. So every secret configured here must be presented: POSTMARK_WEBHOOK_USERNAME and
POSTMARK_WEBHOOK_PASSWORD (basic auth) and/or POSTMARK_WEBHOOK_TOKEN (header X-Webhook-Token, or the query
parameter token). Postmark sends no timestamp to check, so replays are refused by the event's own ID. Its
payload echoes no Message-ID of ours, so the delivery is the address's latest.
"""

import re

from flask import current_app

from mailer.deliverability.provider_events import (
    BOUNCE,
    COMPLAINT,
    DELIVERED,
    OTHER,
    UNSUBSCRIBE,
    ProviderEvent,
    WebhookRefused,
    WebhookRequest,
    angle_id,
    parse_json,
    same_secret,
)
from mailer.delivery.replies import status_code

NAME = "postmark"
ENHANCED = re.compile(r"\b[245]\.\d{1,3}\.\d{1,3}\b")
TOKEN_HEADER = "X-Webhook-Token"
# Postmark's bounce types, as the status code a receiving server would have given for them.
BOUNCE_STATUS = {
    "HardBounce": "5.1.1",
    "BadEmailAddress": "5.1.3",
    "SoftBounce": "4.0.0",
    "Transient": "4.0.0",
    "DnsError": "4.4.3",
    "Blocked": "5.7.1",
    "SMTPApiError": "4.0.0",
    "ManuallyDeactivated": "5.0.0",
}
COMPLAINT_TYPES = ("SpamComplaint", "SpamNotification")


def configured(config) -> bool:
    return bool(config["POSTMARK_WEBHOOK_TOKEN"] or config["POSTMARK_WEBHOOK_PASSWORD"])


def verify(request: WebhookRequest) -> None:
    config = current_app.config
    if config["POSTMARK_WEBHOOK_PASSWORD"]:
        if request.password is None:
            raise WebhookRefused(401, "Basic authentication is required for Postmark webhooks: refused.")
        if not (
            same_secret(request.username, config["POSTMARK_WEBHOOK_USERNAME"])
            & same_secret(request.password, config["POSTMARK_WEBHOOK_PASSWORD"])
        ):
            raise WebhookRefused(403, "The Postmark webhook's basic-auth credentials are wrong: refused.")
    if config["POSTMARK_WEBHOOK_TOKEN"]:
        token = request.headers.get(TOKEN_HEADER) or request.args.get("token")
        if not token:
            raise WebhookRefused(401, f"The Postmark webhook token ({TOKEN_HEADER}) is missing: refused.")
        if not same_secret(token, config["POSTMARK_WEBHOOK_TOKEN"]):
            raise WebhookRefused(403, "The Postmark webhook token is wrong: refused.")


def event_of(item: dict) -> ProviderEvent:
    record = str(item.get("RecordType", ""))
    kind = {"Bounce": BOUNCE, "SpamComplaint": COMPLAINT, "Delivery": DELIVERED}.get(record, OTHER)
    bounce_type = str(item.get("Type", ""))
    if kind == BOUNCE and bounce_type in COMPLAINT_TYPES:
        kind = COMPLAINT
    elif kind == BOUNCE and bounce_type not in BOUNCE_STATUS:
        kind = OTHER  # auto-replies, challenge-response, "unknown": not about the address
    if (
        record == "SubscriptionChange"
        and item.get("SuppressSending")
        and (item.get("SuppressionReason") == "ManualSuppression")
    ):
        kind = UNSUBSCRIBE  # the person used Postmark's own unsubscribe link
    details = str(item.get("Details") or item.get("Description") or bounce_type)
    metadata = item.get("Metadata")
    event_id = (
        item.get("ID") or f"{item.get('MessageID', '')}:{item.get('ChangedAt') or item.get('DeliveredAt')}"
    )
    return ProviderEvent(
        key=f"{record}:{event_id}"[:200],
        kind=kind,
        message_id=angle_id(metadata.get("Message-ID")) if isinstance(metadata, dict) else "",
        recipient=str(item.get("Email") or item.get("Recipient") or ""),
        # The receiving server's own code when Details quotes one, else Postmark's class as a code.
        status=status_code("", details) if ENHANCED.search(details) else BOUNCE_STATUS.get(bounce_type, ""),
        diagnostic=details,
        reporter="postmarkapp.com",
    )


def receive(request: WebhookRequest) -> tuple[list[ProviderEvent], str]:
    verify(request)
    item = parse_json(request.body)
    if not isinstance(item, dict) or not item.get("RecordType"):
        raise WebhookRefused(
            400, "A Postmark webhook is a JSON object with a RecordType: nothing was recorded."
        )
    return [event_of(item)], ""
