"""Mailgun's webhooks (failed, complained, delivered, unsubscribed).

Each POST is a JSON object with `signature` {timestamp, token, signature} and `event-data`. The signature is
HMAC-SHA256 (hex) of timestamp + token under the webhook signing key (MAILGUN_WEBHOOK_SIGNING_KEY, shown in
Mailgun's console under Webhooks). The token is unique per request, so it is the replay key, as Mailgun
advises. `event-data.message.headers.message-id` echoes our Message-ID (without angle brackets).
"""

import hashlib
import hmac

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
    check_fresh,
    parse_json,
)

NAME = "mailgun"
KINDS = {"failed": BOUNCE, "complained": COMPLAINT, "delivered": DELIVERED, "unsubscribed": UNSUBSCRIBE}


def configured(config) -> bool:
    return bool(config["MAILGUN_WEBHOOK_SIGNING_KEY"])


def verify(payload: dict) -> str:
    """Check the signature block; returns the request's token."""
    block = payload.get("signature")
    if not isinstance(block, dict) or not all(
        isinstance(block.get(name), str) for name in ("timestamp", "token", "signature")
    ):
        raise WebhookRefused(401, "The Mailgun request is not signed (no signature block): refused.")
    expected = hmac.new(
        current_app.config["MAILGUN_WEBHOOK_SIGNING_KEY"].encode(),
        (block["timestamp"] + block["token"]).encode(),
        hashlib.sha256,
    ).hexdigest()
    if not hmac.compare_digest(expected.encode(), block["signature"].encode()):
        raise WebhookRefused(403, "The Mailgun signature does not verify: refused.")
    check_fresh(block["timestamp"], "Mailgun")
    return block["token"]


def _event(token: str, data) -> ProviderEvent:
    if not isinstance(data, dict):
        raise WebhookRefused(400, "The Mailgun request has no event-data object: nothing was recorded.")
    name = str(data.get("event", ""))
    kind = KINDS.get(name, OTHER)
    status = data.get("delivery-status") or {}
    status = status if isinstance(status, dict) else {}
    message = data.get("message") or {}
    headers = message.get("headers") if isinstance(message, dict) else {}
    code = str(status.get("code") or "")
    text = " ".join(str(status.get(part) or "") for part in ("message", "description")).strip()
    return ProviderEvent(
        key=token[:200],
        kind=kind,
        message_id=angle_id(headers.get("message-id")) if isinstance(headers, dict) else "",
        recipient=str(data.get("recipient", "")),
        status=str(status.get("enhanced-code") or ("" if code else "5.0.0")),
        diagnostic=f"{code} {text}".strip(),
        # Mailgun reports each temporary failure while it retries; only a permanent one is a bounce.
        final=name != "failed" or data.get("severity") == "permanent",
        reporter="mailgun.org",
    )


def receive(request: WebhookRequest) -> tuple[list[ProviderEvent], str]:
    payload = parse_json(request.body)
    if not isinstance(payload, dict):
        raise WebhookRefused(400, "A Mailgun webhook is a JSON object: nothing was recorded.")
    token = verify(payload)
    return [_event(token, payload.get("event-data"))], ""
