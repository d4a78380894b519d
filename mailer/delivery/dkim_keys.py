"""DKIM private keys at rest (Art. 32): sealed with the master keys of sensitive fields (MAILER_DATA_KEYS).

A key is stored as a MultiFernet token (AES-128-CBC + HMAC-SHA256, authenticated) under the newest master key;
`flask keys reencrypt` re-seals every key under the newest one. Signing reads the PEM through
`DkimKey.private_key_pem`, decrypted once per process and ciphertext (workers build signers per batch).
"""

from datetime import datetime
from functools import lru_cache

from cryptography.fernet import InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import LargeBinary, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from mailer.contacts.keys import master_keys
from mailer.core.clock import utcnow
from mailer.core.errors import PrivacyError
from mailer.core.extensions import Model, db


class DkimKeyError(RuntimeError):
    """A DKIM key cannot be read with the configured MAILER_DATA_KEYS."""


def _keyring() -> MultiFernet:
    """The master keys of sensitive fields (MAILER_DATA_KEYS), newest first."""
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


class DkimKey(Model):
    """A private key signing one domain's mail; its public half is at <selector>._domainkey.<domain>.

    The private key is stored sealed (seal_pem); `private_key_pem` reads and writes the PEM.
    """

    __tablename__ = "dkim_keys"
    __table_args__ = (UniqueConstraint("domain", "selector", name="uq_dkim_keys_domain_selector"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(253))
    selector: Mapped[str] = mapped_column(String(63))
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)  # MultiFernet token of the PEM
    active: Mapped[bool] = mapped_column(default=True)  # the newest active key of a domain signs
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def private_key_pem(self) -> str:
        """The PEM, decrypted."""
        return open_pem(self.private_key_encrypted)

    @private_key_pem.setter
    def private_key_pem(self, pem: str) -> None:
        self.private_key_encrypted = seal_pem(pem)


def reseal_all() -> int:
    """Re-encrypt every DKIM key under the newest master key (`flask keys reencrypt`); the caller commits."""
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
