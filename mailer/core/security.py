"""Keyed hashes and signed tokens (REQUIREMENTS I1-I4).

Tokens carry opaque public ids only, each purpose has its own salt (or key), and every key in
SECRET_KEY_FALLBACKS still verifies after a rotation while SECRET_KEY signs.

The links placed in every marketing message (unsubscribe, preferences, open pixel, click) use a compact format
signed by itsdangerous' low-level Signer (HMAC-SHA256; a campaign makes several per recipient, and the
serializer's JSON/zlib/timestamp layers cost ~30-80 µs a token, a fifth of a worker's time): "m", base64url of
the fields joined by US (the first is the issue time), a dot, the signature. A click token is the recipient's
click token, a dot, and the link part ("<link id>-<signature binding it to the campaign>"), which is the same
for every recipient. Tokens in itsdangerous's format (mail already sent) still verify: they never start with
"m".
"""

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from functools import lru_cache

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, Signer, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.url_safe import URLSafeSerializerMixin

TOKEN_PURPOSES = (
    "confirm",
    "unsubscribe",
    "preferences",
    "form-ts",
    "resend",
    "setup",
    "open",
    "click",
    "privacy-verify",
    "export",
    "preferences-request",
    "reconfirm-email",
    "repermission",
    "list-reconfirm",
    "staff-invite",
)


class TokenInvalid(Exception):
    """The token was tampered with, is of another purpose, or was signed with an unknown key."""


class TokenExpired(Exception):
    """The token is genuine but older than its purpose allows; payload is still readable."""

    def __init__(self, payload):
        super().__init__("token expired")
        self.payload = payload


# Recipient-link purposes minted in the compact format, and the shape of their payloads.
COMPACT_PURPOSES = ("unsubscribe", "preferences", "open", "click")
COMPACT_PREFIX = "m"
_SEP = "\x1f"  # ASCII unit separator: never part of a public id
_CLOCK_SKEW = 300  # seconds a token's issue time may lie ahead of this host's clock (several hosts)


@lru_cache(maxsize=16)
def _derived_hash_key(configured: str | None, secret: str) -> bytes:
    if configured:
        return configured.encode()
    return hmac.new(secret.encode(), b"mailer-blind-index", hashlib.sha256).digest()


def _hash_key() -> bytes:
    """Key for blind indexes; derived from SECRET_KEY when MAILER_HASH_KEY is not set."""
    config = current_app.config
    return _derived_hash_key(config.get("MAILER_HASH_KEY"), config["SECRET_KEY"])


def keyed_hash(value: str) -> str:
    """HMAC-SHA256 of a normalised value: a lookup key that reveals nothing without the key."""
    return hmac.digest(_hash_key(), value.encode(), "sha256").hex()


def keyed_hasher() -> Callable[[str], str]:
    """keyed_hash with the key looked up once, for hashing many values (a CSV import)."""
    key, digest = _hash_key(), hmac.digest
    return lambda value: digest(key, value.encode(), "sha256").hex()


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
    if purpose in COMPACT_PURPOSES:
        return compact_keys(purpose).mint(payload)
    return _serializer(purpose).dumps(payload)


def read_token(purpose: str, token: str, max_age: int | None = None):
    """Return the payload of a token of this purpose, or raise TokenInvalid / TokenExpired."""
    if not token or len(token) > 512:
        raise TokenInvalid()
    if purpose in COMPACT_PURPOSES and token.startswith(COMPACT_PREFIX):
        return compact_keys(purpose).read(token, max_age)
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


# --- the compact recipient-link format ----------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict base64url: only the canonical spelling of some bytes decodes (no ignored characters or bits)."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not canonical base64url")
    return data


def _field(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or not value or _SEP in value or len(value) > 64:
        raise ValueError(f"recipient-link tokens carry public ids only, not {value!r}")
    return value


class CompactKeys:
    """One purpose's signers: keys derived per purpose from
    SECRET_KEY (signs) and each fallback (still verifies).

    The MACs are itsdangerous Signers (HMAC-SHA256, key rotation, constant-time checks) over keys derived once
    per key set, so minting costs one HMAC and no per-call key derivation.
    """

    def __init__(self, purpose: str, secrets: tuple[str, ...]):
        self.purpose = purpose

        def signer(label: str) -> Signer:
            # itsdangerous signs with the last key and verifies with each, newest first.
            keys = [hmac.digest(secret.encode(), label.encode(), "sha256") for secret in secrets]
            return Signer(keys, key_derivation="none", digest_method=hashlib.sha256)

        self.signer = signer(f"mailer.compact-token.{purpose}")
        self.link_signer = signer("mailer.compact-token.click-link")

    # sealing: base64url(body) "." signature
    def _seal(self, body: str) -> str:
        return self.signer.sign(_b64(body.encode())).decode("ascii")

    def _unseal(self, text: str) -> str | None:
        try:
            return _unb64(self.signer.unsign(text).decode("ascii")).decode()
        except (BadSignature, binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
            return None

    def recipient(self, fields: tuple, issued: int | None = None) -> str:
        """The sealed (issue time, fields...) part; for "click", the recipient half of every click token."""
        stamp = int(time.time()) if issued is None else issued
        return COMPACT_PREFIX + self._seal(_SEP.join((str(stamp), *map(_field, fields))))

    def link_part(self, campaign_public_id: str, link_id: int) -> str:
        """The link half of a click token: the link id and a
        signature binding it to the campaign (no recipient)."""
        if not isinstance(link_id, int) or isinstance(link_id, bool) or link_id < 0:
            raise ValueError("link ids are non-negative integers")
        signature = self.link_signer.get_signature(f"{_field(campaign_public_id)}{_SEP}{link_id}").decode(
            "ascii"
        )
        return f"{link_id}-{signature}"

    def mint(self, payload) -> str:
        """A token for make_token's payload shapes: preferences: id; open: [campaign, contact];
        unsubscribe: [contact, list or None, campaign or None]; click: [campaign, contact, link id]."""
        if self.purpose == "preferences":
            return self.recipient((payload,))
        if self.purpose == "click":
            campaign, contact, link_id = payload
            return f"{self.recipient((campaign, contact))}.{self.link_part(campaign, link_id)}"
        return self.recipient(tuple(payload))

    def read(self, token: str, max_age: int | None):
        """The payload make_token was given, or TokenInvalid / TokenExpired(payload)."""
        parts = token[len(COMPACT_PREFIX) :].split(".")
        if len(parts) != (3 if self.purpose == "click" else 2):
            raise TokenInvalid()
        head, link = ".".join(parts[:2]), "".join(parts[2:])
        body = self._unseal(head)
        if body is None:
            raise TokenInvalid()
        stamp, *fields = body.split(_SEP)
        values = [value or None for value in fields]
        payload: str | list
        if self.purpose == "click":
            payload = self._click(values, link)
        elif link:
            raise TokenInvalid()
        elif self.purpose == "preferences" and len(values) == 1 and values[0]:
            payload = values[0]
        elif (self.purpose == "open" and len(values) == 2 and all(values)) or (
            self.purpose == "unsubscribe" and len(values) == 3 and values[0]
        ):
            payload = values
        else:
            raise TokenInvalid()
        try:
            age = int(time.time()) - int(stamp)
        except ValueError:
            raise TokenInvalid() from None
        if max_age is not None and (age > max_age or age < -_CLOCK_SKEW):
            raise TokenExpired(payload)
        return payload

    def _click(self, values: list, link: str) -> list:
        if len(values) != 2 or not all(values) or not link:
            raise TokenInvalid()
        campaign = values[0]
        link_id, _, signature = link.partition("-")  # the id is digits; the signature may hold "-" too
        if not (
            link_id.isascii()
            and link_id.isdigit()
            and signature
            and self.link_signer.verify_signature(f"{campaign}{_SEP}{link_id}", signature)
        ):
            raise TokenInvalid()
        return [campaign, values[1], int(link_id)]


@lru_cache(maxsize=64)
def _cached_compact(purpose: str, secrets: tuple[str, ...]) -> CompactKeys:
    return CompactKeys(purpose, secrets)


def compact_keys(purpose: str) -> CompactKeys:
    """The current app's keys for a recipient-link purpose (cached per key set)."""
    if purpose not in COMPACT_PURPOSES:
        raise ValueError(f"{purpose!r} does not use the compact format")
    config = current_app.config
    return _cached_compact(purpose, (*config.get("SECRET_KEY_FALLBACKS", []), config["SECRET_KEY"]))


# --- tokens that travel as an email address's local part ----------------------------------------------------

ADDRESS_PURPOSES = ("unsubscribe-mailto",)
_DAY = 24 * 3600
_ADDRESS_TOKEN = re.compile(r"(?P<number>[0-9a-f]{1,16})-(?P<day>[0-9a-f]{1,6})-(?P<mac>[0-9a-f]{20})")


class AddressKeys:
    """A row id signed for one purpose, in a shape that survives as the local part of an email address.

    `<id in hex>-<issue day in hex>-<80-bit HMAC-SHA256 in hex>`: lower-case hex only (mail systems may change
    the case of a local part) and about 35 characters, so with a tag and the bounce local part the address
    stays within RFC 5321's 64. Keys derived per purpose from SECRET_KEY (signs) and each fallback (still
    verifies); one HMAC to mint.
    """

    def __init__(self, purpose: str, secrets: tuple[str, ...]):
        label = f"mailer.address-token.{purpose}".encode()
        self.keys = [hmac.digest(secret.encode(), label, "sha256") for secret in secrets]  # newest last

    @staticmethod
    def _mac(key: bytes, body: str) -> str:
        return hmac.digest(key, body.encode(), "sha256")[:10].hex()

    def mint(self, number: int, issued: int | None = None) -> str:
        day = (int(time.time()) if issued is None else issued) // _DAY
        body = f"{number:x}-{day:x}"
        return f"{body}-{self._mac(self.keys[-1], body)}"

    def read(self, token: str, max_age: int | None) -> int:
        """The id a genuine token carries, or TokenInvalid / TokenExpired(id) (age counted in whole days)."""
        match = _ADDRESS_TOKEN.fullmatch((token or "").lower())
        if not match:
            raise TokenInvalid()
        body = f"{match['number']}-{match['day']}"
        if not any(hmac.compare_digest(self._mac(key, body), match["mac"]) for key in self.keys):
            raise TokenInvalid()
        number = int(match["number"], 16)
        days = int(time.time()) // _DAY - int(match["day"], 16)
        if max_age is not None and (days * _DAY > max_age or days < -1):
            raise TokenExpired(number)
        return number


@lru_cache(maxsize=16)
def _cached_address_keys(purpose: str, secrets: tuple[str, ...]) -> AddressKeys:
    return AddressKeys(purpose, secrets)


def address_keys(purpose: str) -> AddressKeys:
    """The current app's keys for an address-token purpose (cached per key set)."""
    if purpose not in ADDRESS_PURPOSES:
        raise ValueError(f"unknown address-token purpose {purpose!r}")
    config = current_app.config
    return _cached_address_keys(purpose, (*config.get("SECRET_KEY_FALLBACKS", []), config["SECRET_KEY"]))
