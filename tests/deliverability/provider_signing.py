"""Signed sample events of each provider, made the way the providers make them, with keys made here.

SES via SNS: a throw-away CA and an SNS-like signing certificate (CN sns.amazonaws.com) made with
`cryptography`; messages signed over SNS's canonical string (SignatureVersion 1: SHA1, 2: SHA256). The
certificate fetch is the one thing faked (`sns_fetches`): it serves this certificate for the URL SNS names.
SendGrid: an ECDSA P-256 key, the public half in the console's base64-DER form. Mailgun: an HMAC signing key.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem"
SUBSCRIBE_URL = (
    "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + TOPIC + "&Token=2336412f37"
)
MAILGUN_KEY = "key-" + secrets.token_hex(16)
POSTMARK_TOKEN = secrets.token_urlsafe(24)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _make_sns_cert() -> tuple[rsa.RSAPrivateKey, bytes]:
    now = datetime.now(UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Test Amazon RSA CA"))
        .issuer_name(_name("Test Amazon RSA CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("sns.amazonaws.com"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


SNS_KEY, SNS_CERT_PEM = _make_sns_cert()
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC = base64.b64encode(
    SENDGRID_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()
CONFIG = {
    "SES_SNS_TOPIC_ARNS": [TOPIC],
    "SENDGRID_WEBHOOK_PUBLIC_KEY": SENDGRID_PUBLIC,
    "POSTMARK_WEBHOOK_TOKEN": POSTMARK_TOKEN,
    "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY,
}
SNS_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}


def iso_now(delta: float = 0) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=delta)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def sns_sign(message: dict, version: str = "1", key: rsa.RSAPrivateKey = SNS_KEY) -> dict:
    """Sign an SNS message as SNS does and add the signature fields."""
    text = "".join(f"{name}\n{message[name]}\n" for name in SNS_FIELDS[message["Type"]] if name in message)
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(text.encode(), padding.PKCS1v15(), digest)
    return {
        **message,
        "SignatureVersion": version,
        "Signature": base64.b64encode(signature).decode(),
        "SigningCertURL": CERT_URL,
    }


def sns_notification(ses_body: dict, *, version: str = "1", age: float = 0, topic: str = TOPIC) -> dict:
    return sns_sign(
        {
            "Type": "Notification",
            "MessageId": secrets.token_hex(16),
            "TopicArn": topic,
            "Message": json.dumps(ses_body),
            "Timestamp": iso_now(-age),
        },
        version,
    )


def sns_subscription(subscribe_url: str = SUBSCRIBE_URL) -> dict:
    return sns_sign(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": secrets.token_hex(16),
            "Token": "2336412f37",
            "TopicArn": TOPIC,
            "Message": "You have chosen to subscribe to the topic " + TOPIC,
            "SubscribeURL": subscribe_url,
            "Timestamp": iso_now(),
        },
        "2",
    )


def ses_mail(message_id: str, address: str) -> dict:
    return {
        "timestamp": iso_now(),
        "source": "newsletter@example.com",
        "messageId": "0100018c-ses-" + secrets.token_hex(8),
        "destination": [address],
        "headersTruncated": False,
        "headers": [{"name": "Message-ID", "value": message_id}, {"name": "To", "value": address}],
        "commonHeaders": {"messageId": message_id, "to": [address]},
    }


def ses_bounce(message_id: str, address: str, kind="Permanent", sub="General", status="5.1.1", code=None):
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": kind,
            "bounceSubType": sub,
            "bouncedRecipients": [
                {
                    "emailAddress": address,
                    "action": "failed",
                    "status": status,
                    "diagnosticCode": code or f"smtp; 550 {status} mailbox unavailable",
                }
            ],
            "timestamp": iso_now(),
            "feedbackId": secrets.token_hex(8),
            "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
        },
        "mail": ses_mail(message_id, address),
    }


def ses_complaint(message_id: str, address: str) -> dict:
    return {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": address}],
            "timestamp": iso_now(),
            "feedbackId": secrets.token_hex(8),
            "complaintFeedbackType": "abuse",
        },
        "mail": ses_mail(message_id, address),
    }


def sendgrid_headers(body: bytes, age: float = 0, key: ec.EllipticCurvePrivateKey = SENDGRID_KEY) -> dict:
    timestamp = str(int(time.time() - age))
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "Content-Type": "application/json",
    }


def sendgrid_event(event: str, message_id: str, address: str, **extra) -> dict:
    return {
        "email": address,
        "timestamp": int(time.time()),
        "smtp-id": message_id,
        "event": event,
        "sg_event_id": secrets.token_urlsafe(16),
        "sg_message_id": secrets.token_hex(10) + ".filter0001",
        **extra,
    }


def mailgun_payload(
    event_data: dict, *, age: float = 0, key: str = MAILGUN_KEY, token: str | None = None
) -> dict:
    timestamp = str(int(time.time() - age))
    token = token or secrets.token_hex(25)
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event_data,
    }


def mailgun_failed(
    message_id: str, address: str, severity="permanent", code=550, message="5.1.1 No such user"
):
    return {
        "event": "failed",
        "id": secrets.token_urlsafe(16),
        "timestamp": time.time(),
        "severity": severity,
        "recipient": address,
        "message": {"headers": {"message-id": message_id.strip("<>"), "to": address}},
        "delivery-status": {"code": code, "message": message, "description": ""},
    }


def postmark_bounce(
    address: str, bounce_type="HardBounce", details="smtp;550 5.1.1 The email account does not exist"
):
    return {
        "RecordType": "Bounce",
        "ID": secrets.randbelow(10**10),
        "Type": bounce_type,
        "TypeCode": 1,
        "Name": "Hard bounce",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "MessageStream": "outbound",
        "Description": "The server was unable to deliver your message",
        "Details": details,
        "Email": address,
        "From": "newsletter@example.com",
        "BouncedAt": iso_now(),
    }
