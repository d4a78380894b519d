"""Envelope encryption of sensitive values (Art. 32): a data key per contact, wrapped by the master keys.

Values are sealed with AES-256-GCM under the contact's own key; that key is stored wrapped with
MultiFernet over MAILER_DATA_KEYS (newest first). Rotation re-wraps every contact key under the newest
master key; erasure deletes the contact key, which makes every ciphertext of that person unreadable.
"""

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import select

from mailer.contacts.models.contact import Contact
from mailer.contacts.models.fields import ContactKey
from mailer.core.clock import utcnow
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db

FORMAT_V1 = b"\x01"


def _derived_key() -> bytes:
    """Development fallback: a Fernet key derived from SECRET_KEY."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"mailer-data-keys")
    return base64.urlsafe_b64encode(hkdf.derive(current_app.config["SECRET_KEY"].encode()))


def master_keys() -> MultiFernet:
    """The configured master keys (newest first encrypts, all decrypt)."""
    keys = current_app.config.get("MAILER_DATA_KEYS") or []
    if not keys:
        if current_app.config.get("MAILER_ENV") == "production":
            raise PrivacyError(
                "Sensitive fields need MAILER_DATA_KEYS (generate one with `python -c 'from "
                "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)."
            )
        keys = [_derived_key()]
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError:
        raise PrivacyError(
            "MAILER_DATA_KEYS must be Fernet keys (32 url-safe base64-encoded bytes)."
        ) from None


def _contact_key(contact: Contact, create: bool) -> bytes | None:
    """The contact's raw data key, created on first use when asked to."""
    row = db.session.get(ContactKey, contact.id)
    if row is None:
        if not create:
            return None
        raw = AESGCM.generate_key(bit_length=256)
        db.session.add(ContactKey(contact_id=contact.id, wrapped_key=master_keys().encrypt(raw)))
        db.session.flush()
        return raw
    try:
        return master_keys().decrypt(row.wrapped_key)
    except InvalidToken:
        raise PrivacyError(
            "This contact's data key cannot be unwrapped with the configured MAILER_DATA_KEYS."
        ) from None


def _aad(contact: Contact, field_key: str) -> bytes:
    """Binds a ciphertext to its contact and field, so it cannot be moved to another row."""
    return f"{contact.public_id}|{field_key}".encode()


def seal(contact: Contact, field_key: str, plaintext: str) -> bytes:
    """Encrypt one value under the contact's own key."""
    nonce = os.urandom(12)
    key = _contact_key(contact, create=True)
    assert key is not None  # create=True makes the key when there is none
    return FORMAT_V1 + nonce + AESGCM(key).encrypt(nonce, plaintext.encode(), _aad(contact, field_key))


def unseal(contact: Contact, field_key: str, ciphertext: bytes | None) -> str | None:
    """Decrypt one value; None when the contact's key is gone (erased) or the value was tampered with."""
    key = _contact_key(contact, create=False)
    if key is None or not ciphertext or ciphertext[:1] != FORMAT_V1:
        return None
    try:
        return AESGCM(key).decrypt(ciphertext[1:13], ciphertext[13:], _aad(contact, field_key)).decode()
    except InvalidTag:
        return None


def shred(contact: Contact) -> bool:
    """Delete the contact's data key: whatever was encrypted under it can never be read again."""
    row = db.session.get(ContactKey, contact.id)
    if row is None:
        return False
    db.session.delete(row)
    return True


def rewrap_all(batch_size: int = 500) -> int:
    """Re-wrap every contact key under the newest master key (after adding one to MAILER_DATA_KEYS)."""
    keys = master_keys()
    done, last_id = 0, 0
    while True:
        rows = (
            db.session.execute(
                select(ContactKey)
                .where(ContactKey.contact_id > last_id)
                .order_by(ContactKey.contact_id)
                .limit(batch_size)
            )
            .scalars()
            .all()
        )
        if not rows:
            return done
        for row in rows:
            try:
                row.wrapped_key = keys.rotate(row.wrapped_key)
            except InvalidToken:
                raise PrivacyError(
                    f"Contact key {row.contact_id} is not readable with any configured key; "
                    "keep the old key in MAILER_DATA_KEYS until re-encryption succeeds."
                ) from None
            row.rotated_at = utcnow()
            done += 1
        last_id = rows[-1].contact_id
        db.session.commit()
