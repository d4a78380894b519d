"""Amazon SES bounce, complaint and delivery notifications, delivered by Amazon SNS over HTTPS.

An SNS message is trusted only when (1) its TopicArn is one of SES_SNS_TOPIC_ARNS (anyone can create an SNS
topic, so a valid signature alone proves nothing about the sender), (2) its SigningCertURL is https on an
sns.<region>.amazonaws.com host, fetched with a timeout and a size cap and cached, and (3) the RSA signature
over SNS's canonical string verifies with that certificate (SignatureVersion 1: SHA1, 2: SHA256), and (4) its
Timestamp is fresh. A SubscriptionConfirmation is confirmed by visiting its SubscribeURL after the same host
check. The Message of a Notification is SES's JSON (notificationType, or eventType for configuration-set
event publishing): Bounce, Complaint, Delivery, Subscription.
"""

import base64
import re
import threading
import time
import urllib.request
from datetime import UTC, datetime
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
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

NAME = "ses"
SNS_HOST = re.compile(r"^sns\.[a-z0-9-]{1,40}\.amazonaws\.com(\.cn)?$")
CERT_MAX_BYTES = 16 * 1024
CERT_CACHE_SECONDS = 3600
CERT_CACHE_ENTRIES = 32
FETCH_TIMEOUT_SECONDS = 5.0
# The fields SNS signs, per message type, in the order it joins them.
CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": CONFIRMATION_FIELDS,
    "UnsubscribeConfirmation": CONFIRMATION_FIELDS,
}
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
_certs: dict[str, tuple[float, rsa.RSAPublicKey]] = {}
_certs_lock = threading.Lock()


def configured(config) -> bool:
    return bool(config["SES_SNS_TOPIC_ARNS"])


def fetch_https(url: str, limit: int) -> bytes:
    """GET an https URL with a timeout, reading at most `limit` bytes (the one call out to Amazon)."""
    with urllib.request.urlopen(
        url, timeout=FETCH_TIMEOUT_SECONDS
    ) as response:  # https only: checked by the callers
        body = response.read(limit + 1)
    if len(body) > limit:
        raise ValueError(f"more than {limit} bytes")
    return body


def amazon_url(url) -> bool:
    """Whether a URL is https on an SNS endpoint host (no user info, no odd port)."""
    if not isinstance(url, str) or len(url) > 2048:
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and not parts.username
        and port in (None, 443)
        and bool(SNS_HOST.match(parts.hostname or ""))
    )


def signing_key(url: str) -> rsa.RSAPublicKey:
    """The public key of SNS's signing certificate at this URL (checked, fetched once an hour per URL)."""
    if not amazon_url(url) or not urlsplit(url).path.endswith(".pem"):
        raise WebhookRefused(
            403, "The SNS SigningCertURL is not an https .pem on an sns.<region>.amazonaws.com host."
        )
    now = time.monotonic()
    with _certs_lock:
        cached = _certs.get(url)
    if cached is not None and cached[0] > now:
        return cached[1]
    try:
        cert = x509.load_pem_x509_certificate(fetch_https(url, CERT_MAX_BYTES))
    except (OSError, ValueError) as exc:
        raise WebhookRefused(
            503,
            f"The SNS signing certificate could not be fetched ({exc.__class__.__name__}); try again later.",
        ) from None
    key = cert.public_key()
    valid = cert.not_valid_before_utc <= datetime.now(UTC) <= cert.not_valid_after_utc
    if not isinstance(key, rsa.RSAPublicKey) or not valid:
        raise WebhookRefused(403, "The SNS signing certificate is not a valid RSA certificate: refused.")
    with _certs_lock:
        if len(_certs) >= CERT_CACHE_ENTRIES:
            _certs.clear()
        _certs[url] = (now + CERT_CACHE_SECONDS, key)
    return key


def string_to_sign(message: dict) -> bytes:
    """SNS's canonical form: each signed field present, as 'Name\\nvalue\\n', in byte order of the names."""
    fields = SIGNED_FIELDS.get(str(message.get("Type")), ())
    return "".join(
        f"{name}\n{message[name]}\n" for name in fields if isinstance(message.get(name), str)
    ).encode()


def _timestamp(value) -> float | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def verify(message: dict) -> None:
    """Refuse an SNS message that is not from one of our topics, unsigned, badly signed or stale."""
    kind = message.get("Type")
    if kind not in SIGNED_FIELDS:
        raise WebhookRefused(400, "Not an SNS message (Type is missing or unknown): nothing was recorded.")
    if message.get("TopicArn") not in current_app.config["SES_SNS_TOPIC_ARNS"]:
        raise WebhookRefused(403, "This SNS topic is not one of SES_SNS_TOPIC_ARNS: refused.")
    version = str(message.get("SignatureVersion", ""))
    signature = message.get("Signature")
    if version not in HASHES or not isinstance(signature, str) or not message.get("SigningCertURL"):
        raise WebhookRefused(401, "The SNS message is not signed (SignatureVersion 1 or 2): refused.")
    key = signing_key(str(message["SigningCertURL"]))
    try:
        key.verify(
            base64.b64decode(signature), string_to_sign(message), padding.PKCS1v15(), HASHES[version]()
        )
    except (InvalidSignature, ValueError):
        raise WebhookRefused(403, "The SNS message signature does not verify: refused.") from None
    check_fresh(_timestamp(message.get("Timestamp")), "SNS")


def confirm_subscription(message: dict) -> str:
    """Visit a verified SubscriptionConfirmation's SubscribeURL (an SNS host only)."""
    url = message.get("SubscribeURL")
    if not amazon_url(url):
        raise WebhookRefused(
            403, "The SubscribeURL is not https on an sns.<region>.amazonaws.com host: refused."
        )
    try:
        fetch_https(str(url), 64 * 1024)
    except (OSError, ValueError) as exc:
        raise WebhookRefused(
            503, f"The subscription could not be confirmed ({exc.__class__.__name__}); SNS will ask again."
        ) from None
    return "subscription confirmed"


def _message_id(mail: dict) -> str:
    for header in mail.get("headers") or ():
        if isinstance(header, dict) and str(header.get("name", "")).lower() == "message-id":
            return angle_id(header.get("value"))
    common = mail.get("commonHeaders") or {}
    return angle_id(common.get("messageId")) if isinstance(common, dict) else ""


def _bounce_events(key: str, body: dict, message_id: str) -> list[ProviderEvent]:
    bounce = body.get("bounce") or {}
    kind = bounce.get("bounceType")
    sub_kind = str(bounce.get("bounceSubType", ""))
    # SES's own classes where the receiving server gave no enhanced code.
    default = "5.2.2" if sub_kind == "MailboxFull" else "5.0.0" if kind == "Permanent" else "4.0.0"
    events = []
    for index, rcpt in enumerate(bounce.get("bouncedRecipients") or ()):
        if not isinstance(rcpt, dict):
            continue
        events.append(
            ProviderEvent(
                key=f"{key}:{index}",
                kind=BOUNCE,
                message_id=message_id,
                recipient=str(rcpt.get("emailAddress", "")),
                status=str(rcpt.get("status") or default),
                diagnostic=str(rcpt.get("diagnosticCode") or f"{kind} {sub_kind}".strip()),
                reporter=str(bounce.get("reportingMTA", "")).partition(";")[2].strip() or "amazonses.com",
            )
        )
    return events


def _recipients_events(key: str, people, kind: str, message_id: str, **extra) -> list[ProviderEvent]:
    return [
        ProviderEvent(
            key=f"{key}:{index}",
            kind=kind,
            message_id=message_id,
            recipient=str(person.get("emailAddress", "") if isinstance(person, dict) else person),
            **extra,
        )
        for index, person in enumerate(people or ())
    ]


def notification_events(key: str, body) -> list[ProviderEvent]:
    """SES's notification (the SNS Message) as events."""
    if not isinstance(body, dict) or not isinstance(body.get("mail") or {}, dict):
        raise WebhookRefused(400, "The SNS Message is not an SES notification: nothing was recorded.")
    mail = body.get("mail") or {}
    message_id = _message_id(mail)
    kind = body.get("notificationType") or body.get("eventType")
    if kind == "Bounce":
        return _bounce_events(key, body, message_id)
    if kind == "Complaint":
        complaint = body.get("complaint") or {}
        return _recipients_events(
            key,
            complaint.get("complainedRecipients"),
            COMPLAINT,
            message_id,
            feedback_type=str(complaint.get("complaintFeedbackType") or "abuse").lower()[:16],
            reporter="amazonses.com",
        )
    if kind == "Delivery":
        return _recipients_events(key, (body.get("delivery") or {}).get("recipients"), DELIVERED, message_id)
    if kind == "Subscription":
        return _recipients_events(key, mail.get("destination"), UNSUBSCRIBE, message_id)
    return [ProviderEvent(key=key, kind=OTHER)]


def receive(request: WebhookRequest) -> tuple[list[ProviderEvent], str]:
    """Verify an SNS request; (events to record, a note such as 'subscription confirmed')."""
    message = parse_json(request.body)
    if not isinstance(message, dict):
        raise WebhookRefused(400, "Not an SNS message: nothing was recorded.")
    verify(message)
    key = str(message.get("MessageId", ""))[:150]
    if message["Type"] == "SubscriptionConfirmation":
        return [], confirm_subscription(message)
    if message["Type"] == "UnsubscribeConfirmation":
        return [], "unsubscribe confirmation noted"
    inner = message.get("Message")
    if not isinstance(inner, str):
        raise WebhookRefused(400, "The SNS Message is not JSON: nothing was recorded.")
    return notification_events(key, parse_json(inner)), ""
