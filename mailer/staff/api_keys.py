"""API keys: creation (the secret is returned once), authentication by hash, revocation.

A key looks like ``mk_<prefix>_<secret>``. The prefix (8 hex characters) is public: staff see it in the admin
and ledger events name it as their source ("api:<prefix>"). Only the SHA-256 of the whole key is stored; the
secret has 256 bits of entropy, so a fast hash is enough (nothing to brute-force), and a database leak reveals
no usable key.
"""

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from flask_babel import lazy_gettext
from sqlalchemy import select, update

from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.staff.models.accounts import StaffUser
from mailer.staff.models.api_keys import API_KEY_ROLES, ApiKey

KEY_RE = re.compile(r"^mk_([0-9a-f]{8})_([A-Za-z0-9_\-]{43})$")
MAX_NAME_LENGTH = 120
# last_used_at is written at most this often per key, so busy integrations don't turn every read into a write.
LAST_USED_RESOLUTION = timedelta(seconds=60)
ROLE_LABELS = {"read_only": lazy_gettext("Read only"), "read_write": lazy_gettext("Read and write")}


class ApiKeyError(ValueError):
    """A key cannot be created or changed; the message says why."""


class AuthenticationFailedError(Exception):
    """The request's credentials are missing or not valid; the message is safe to return to the caller."""


def _digest(full_key: str) -> str:
    return hashlib.sha256(full_key.encode()).hexdigest()


def create_key(name: str, role: str, created_by: StaffUser | None) -> tuple[ApiKey, str]:
    """Create a key; returns it with the full secret,
    which is shown once and never stored. The caller commits."""
    name = " ".join((name or "").split())
    if not name:
        raise ApiKeyError("Give the key a name that says which integration uses it.")
    if len(name) > MAX_NAME_LENGTH:
        raise ApiKeyError(f"The name is too long ({MAX_NAME_LENGTH} characters at most).")
    if role not in API_KEY_ROLES:
        raise ApiKeyError("Choose whether the key may only read or may also write.")
    while True:
        prefix = secrets.token_hex(4)
        if key_by_prefix(prefix) is None:
            break
    full_key = f"mk_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        prefix=prefix,
        secret_hash=_digest(full_key),
        name=name,
        role=role,
        created_by_id=created_by.id if created_by is not None else None,
    )
    db.session.add(key)
    db.session.flush()
    return key, full_key


def key_by_prefix(prefix: str) -> ApiKey | None:
    return db.session.execute(select(ApiKey).where(ApiKey.prefix == prefix)).scalar_one_or_none()


def all_keys() -> list[ApiKey]:
    """Every key, active ones first, newest first."""
    query = select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.id.desc())
    return list(db.session.execute(query).scalars())


def revoke_key(key: ApiKey, actor: StaffUser | None) -> bool:
    """Revoke a key for good; False when it already was. The caller commits."""
    if key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    key.revoked_by_id = actor.id if actor is not None else None
    return True


def authenticate(authorization: str | None) -> ApiKey:
    """The active key named by an ``Authorization: Bearer <key>`` header, or AuthenticationFailedError."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if not scheme:
        raise AuthenticationFailedError(
            "Authentication required: send the header “Authorization: Bearer <API key>”."
        )
    if scheme.lower() != "bearer":
        raise AuthenticationFailedError("Use the Bearer scheme: “Authorization: Bearer <API key>”.")
    match = KEY_RE.match(credentials.strip())
    if match is None:
        raise AuthenticationFailedError(
            "That is not an API key of this application (they look like mk_xxxxxxxx_…)."
        )
    key = key_by_prefix(match.group(1))
    if key is None or not hmac.compare_digest(key.secret_hash, _digest(match.group(0))):
        raise AuthenticationFailedError("The API key is not valid.")
    if key.revoked_at is not None:
        raise AuthenticationFailedError("This API key was revoked. Ask an administrator for a new one.")
    return key


def note_use(key: ApiKey) -> None:
    """Record when a key was last used (at most once per LAST_USED_RESOLUTION);
    commits its own small write."""
    now = utcnow()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    db.session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key.id,
            (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < now - LAST_USED_RESOLUTION),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
