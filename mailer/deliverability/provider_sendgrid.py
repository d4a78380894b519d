"""SendGrid's Event Webhook with Signed Event Webhook Requests.

SendGrid signs each POST with ECDSA (P-256, SHA-256) over the timestamp header followed by the raw body;
the signature (base64 DER) is in X-Twilio-Email-Event-Webhook-Signature, the timestamp in
X-Twilio-Email-Event-Webhook-Timestamp, and the verification key (base64 DER, as the console shows it, or PEM)
is SENDGRID_WEBHOOK_PUBLIC_KEY. A POST carries a JSON array of events; `smtp-id` echoes our Message-ID.
"""

import base64
import binascii
import functools

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
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

NAME = "sendgrid"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
KINDS = {
    "bounce": BOUNCE,
    "spamreport": COMPLAINT,
    "delivered": DELIVERED,
    "unsubscribe": UNSUBSCRIBE,
    "group_unsubscribe": UNSUBSCRIBE,
}


def configured(config) -> bool:
    return bool(config["SENDGRID_WEBHOOK_PUBLIC_KEY"])


@functools.lru_cache(maxsize=4)
def public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The configured verification key, PEM or the console's base64 DER."""
    data = text.strip().encode()
    key = (
        serialization.load_pem_public_key(data)
        if data.startswith(b"-----")
        else serialization.load_der_public_key(base64.b64decode(data))
    )
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("SENDGRID_WEBHOOK_PUBLIC_KEY is not an elliptic-curve key")
    return key


def verify(request: WebhookRequest) -> None:
    signature = request.headers.get(SIGNATURE_HEADER)
    timestamp = request.headers.get(TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise WebhookRefused(401, f"The request is not signed ({SIGNATURE_HEADER} is missing): refused.")
    try:
        public_key(current_app.config["SENDGRID_WEBHOOK_PUBLIC_KEY"]).verify(
            base64.b64decode(signature, validate=True),
            timestamp.encode() + request.body,
            ec.ECDSA(hashes.SHA256()),
        )
    except (InvalidSignature, binascii.Error, ValueError):
        raise WebhookRefused(403, "The SendGrid signature does not verify: refused.") from None
    check_fresh(timestamp, "SendGrid")


def _event(index: int, item) -> ProviderEvent:
    if not isinstance(item, dict):
        raise WebhookRefused(400, f"Event {index} is not a JSON object: nothing was recorded.")
    name = str(item.get("event", ""))
    kind = KINDS.get(name, OTHER)
    reason = str(item.get("reason") or item.get("response") or "")
    blocked = item.get("type") == "blocked"  # SendGrid's "blocked" bounces are temporary refusals
    return ProviderEvent(
        key=str(item.get("sg_event_id") or f"{item.get('sg_message_id', '')}:{name}:{index}")[:200],
        kind=kind,
        message_id=angle_id(item.get("smtp-id")),
        recipient=str(item.get("email", "")),
        status=str(item.get("status") or ("4.0.0" if blocked else "5.0.0")),
        diagnostic=reason,
        feedback_type="abuse",
        reporter="sendgrid.net",
    )


def receive(request: WebhookRequest) -> tuple[list[ProviderEvent], str]:
    verify(request)
    items = parse_json(request.body)
    if not isinstance(items, list):
        raise WebhookRefused(400, "A SendGrid request is a JSON array of events: nothing was recorded.")
    return [_event(index, item) for index, item in enumerate(items)], ""
