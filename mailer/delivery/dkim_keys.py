"""DKIM private keys at rest (Art. 32): sealed with the master keys of sensitive fields (MAILER_DATA_KEYS).

A key is stored as a MultiFernet token (AES-128-CBC + HMAC-SHA256, authenticated) under the newest master key;
`flask keys reencrypt` re-seals every key under the newest one. Signing reads the PEM through
`DkimKey.private_key_pem`, decrypted once per process and ciphertext (workers build signers per batch).
"""

from functools import lru_cache

from cryptography.fernet import InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import select

from mailer.core.extensions import db


class DkimKeyError(RuntimeError):
    """A DKIM key cannot be read with the configured MAILER_DATA_KEYS."""


def _keyring() -> MultiFernet:
    from mailer.core.errors import PrivacyError
    from mailer.contacts.keys import master_keys

    try:
        return master_keys()
    except PrivacyError as exc:
        raise DkimKeyError(str(exc)) from None


def _keyring_id() -> tuple:
    """What the decryption depends on: the configured keys (or the SECRET_KEY they are derived from)."""
    config = current_app.config
    return tuple(config.get("MAILER_DATA_KEYS") or ()) or ("derived", config.get("SECRET_KEY", ""))


def seal_pem(pem: str) -> bytes:
    """The PEM encrypted under the newest master key."""
    return _keyring().encrypt(pem.encode())


def open_pem(token: bytes) -> str:
    """The PEM of a sealed key (cached per process: the same few keys sign every message)."""
    return _open_cached(bytes(token), _keyring_id())


@lru_cache(maxsize=64)
def _open_cached(token: bytes, _keyring_id: tuple) -> str:
    try:
        return _keyring().decrypt(token).decode()
    except InvalidToken:
        raise DkimKeyError(
            "A DKIM private key cannot be decrypted with the configured MAILER_DATA_KEYS; keep the "
            "old key in MAILER_DATA_KEYS until `flask keys reencrypt` has run."
        ) from None


def reseal_all() -> int:
    """Re-encrypt every DKIM key under the newest master key (part of `flask keys reencrypt`). The caller commits."""
    from mailer.delivery.models import DkimKey

    keys = _keyring()
    count = 0
    for key in db.session.execute(select(DkimKey).order_by(DkimKey.id)).scalars():
        try:
            key.private_key_encrypted = keys.rotate(key.private_key_encrypted)
        except InvalidToken:
            raise DkimKeyError(
                f"DKIM key {key.selector}._domainkey.{key.domain} is not readable with any configured "
                "key; keep the old key in MAILER_DATA_KEYS until re-encryption succeeds."
            ) from None
        count += 1
    return count
