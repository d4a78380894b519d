"""Keyed hashes and signed tokens (REQUIREMENTS I1-I4).

Tokens carry opaque public ids only, each purpose has its own salt, and every key in
SECRET_KEY_FALLBACKS still verifies after a rotation while SECRET_KEY signs.
"""
import hashlib
import hmac
from functools import lru_cache

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.url_safe import URLSafeSerializerMixin

TOKEN_PURPOSES = (
    "confirm", "unsubscribe", "preferences", "form-ts", "resend", "setup", "open", "click", "privacy-verify",
    "export", "preferences-request", "reconfirm-email", "repermission", "staff-invite",
)


class TokenInvalid(Exception):
    """The token was tampered with, is of another purpose, or was signed with an unknown key."""


class TokenExpired(Exception):
    """The token is genuine but older than its purpose allows; payload is still readable."""

    def __init__(self, payload):
        super().__init__("token expired")
        self.payload = payload


def _hash_key() -> bytes:
    """Key for blind indexes; derived from SECRET_KEY when MAILER_HASH_KEY is not set."""
    configured = current_app.config.get("MAILER_HASH_KEY")
    if configured:
        return configured.encode()
    return hmac.new(current_app.config["SECRET_KEY"].encode(), b"mailer-blind-index", hashlib.sha256).digest()


def keyed_hash(value: str) -> str:
    """HMAC-SHA256 of a normalised value: a lookup key that reveals nothing without the key."""
    return hmac.new(_hash_key(), value.encode(), hashlib.sha256).hexdigest()


class _IdSerializer(URLSafeTimedSerializer):
    """Skips the zlib attempt for short payloads (a few ids never compress, and trying costs ~70 µs a token:
    campaigns make ~20 per tracked recipient). Tokens stay in itsdangerous's format; loads() is unchanged."""

    def dump_payload(self, obj) -> bytes:
        json = super(URLSafeSerializerMixin, self).dump_payload(obj)
        return base64_encode(json) if len(json) <= 256 else super().dump_payload(obj)

    def dumps(self, obj, salt=None) -> str:
        """Same token as itsdangerous makes, reusing one signer instead of building one per token."""
        if salt is not None:
            return super().dumps(obj, salt)
        signer = self.__dict__.get("_signer") or self.__dict__.setdefault("_signer", self.make_signer())
        return signer.sign(self.dump_payload(obj)).decode("utf-8")


@lru_cache(maxsize=64)
def _cached_serializer(purpose: str, keys: tuple[str, ...]) -> URLSafeTimedSerializer:
    return _IdSerializer(list(keys), salt=f"mailer.{purpose}")


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    """One serializer per purpose; the newest key signs, older keys still verify."""
    if purpose not in TOKEN_PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    keys = (*current_app.config.get("SECRET_KEY_FALLBACKS", []), current_app.config["SECRET_KEY"])
    return _cached_serializer(purpose, keys)


def make_token(purpose: str, payload) -> str:
    """Sign a JSON-safe payload of opaque ids for one purpose."""
    return _serializer(purpose).dumps(payload)


def read_token(purpose: str, token: str, max_age: int | None = None):
    """Return the payload of a token of this purpose, or raise TokenInvalid / TokenExpired."""
    if not token or len(token) > 512:
        raise TokenInvalid()
    serializer = _serializer(purpose)
    try:
        return serializer.loads(token, max_age=max_age)
    except SignatureExpired as exc:
        try:
            payload = serializer.load_payload(exc.payload) if exc.payload is not None else None
        except BadSignature:
            payload = None
        raise TokenExpired(payload) from exc
    except BadSignature as exc:
        raise TokenInvalid() from exc
