"""Endpoint signing secrets (`whsec_` + base64 of 32 random bytes): made, sealed at rest, rotated with grace.

Secrets are sealed with the master keys of sensitive fields (MAILER_DATA_KEYS), as relay passwords and DKIM
keys are. After a rotation the previous secret keeps signing beside the new one (Standard Webhooks allows
several signatures in `webhook-signature`) until its grace period ends, so a receiver can switch without
dropping a delivery.
"""

import base64
import secrets
from datetime import datetime, timedelta

from cryptography.fernet import InvalidToken
from flask import current_app

from mailer.contacts.keys import master_keys
from mailer.core.clock import utcnow
from mailer.core.errors import PrivacyError
from mailer.webhooks.models import WebhookEndpoint

PREFIX = "whsec_"


class SecretUnreadable(RuntimeError):
    """An endpoint's secret cannot be decrypted with the configured MAILER_DATA_KEYS."""


def new_secret() -> str:
    """A fresh signing secret in the Standard Webhooks format."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def seal(secret: str) -> bytes:
    """The secret encrypted under the newest master key."""
    return master_keys().encrypt(secret.encode())


def unseal(sealed: bytes) -> str:
    """The secret in clear (raises SecretUnreadable when the keys changed without re-encryption)."""
    try:
        return master_keys().decrypt(bytes(sealed)).decode()
    except (InvalidToken, PrivacyError):
        raise SecretUnreadable(
            "A webhook signing secret cannot be decrypted with the configured MAILER_DATA_KEYS; keep the "
            "old key in MAILER_DATA_KEYS, or rotate the endpoint's secret."
        ) from None


def current_secret(endpoint: WebhookEndpoint) -> str:
    """The secret that signs now (shown to owners and admins on the endpoint page)."""
    return unseal(endpoint.secret_sealed)


def secrets_in_force(endpoint: WebhookEndpoint, now: datetime | None = None) -> list[str]:
    """The current secret, and the previous one while its grace period lasts."""
    now = now or utcnow()
    found = [current_secret(endpoint)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_sealed is not None and expires is not None and expires > now:
        found.append(unseal(endpoint.previous_secret_sealed))
    return found


def rotate(endpoint: WebhookEndpoint, grace_hours: float | None = None) -> str:
    """Give the endpoint a new secret; the old one signs too for the grace period. Returns the new secret."""
    if grace_hours is None:
        grace_hours = float(current_app.config["WEBHOOK_SECRET_GRACE_HOURS"])
    secret = new_secret()
    endpoint.previous_secret_sealed = endpoint.secret_sealed if grace_hours > 0 else None
    endpoint.previous_secret_expires_at = utcnow() + timedelta(hours=grace_hours) if grace_hours > 0 else None
    endpoint.secret_sealed = seal(secret)
    return secret
