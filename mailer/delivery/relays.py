"""Named SMTP relays (messengers) beside the default relay of SMTP_URL: host, TLS, credentials, own rate.

A relay's password is sealed with the master keys of sensitive fields (MAILER_DATA_KEYS, as DKIM keys are) and
is never shown back: the admin page only says whether one is set. A campaign chooses its relay and a failover
relay (mailer.campaigns.models.Campaign); the engine sends through them (mailer.delivery.failover).
"""

import enum
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

from cryptography.fernet import InvalidToken
from flask_babel import lazy_gettext
from sqlalchemy import Float, LargeBinary, String, select
from sqlalchemy.orm import Mapped, mapped_column

from mailer import audit
from mailer.contacts.keys import master_keys
from mailer.core.clock import utcnow
from mailer.core.errors import PrivacyError
from mailer.core.extensions import Model, db
from mailer.core.text import has_controls

DEFAULT_RELAY_NAME = "default"  # the relay of SMTP_URL, recorded on deliveries it accepted
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}$|^\[[0-9A-Fa-f:.]+\]$")


class TlsMode(enum.StrEnum):
    """How the connection is protected: STARTTLS on a plain port, TLS from the start (465), or none."""

    STARTTLS = "starttls"
    TLS = "tls"
    NONE = "none"


TLS_LABELS = {
    TlsMode.STARTTLS: lazy_gettext("STARTTLS (usually port 587)"),
    TlsMode.TLS: lazy_gettext("TLS from the first byte (usually port 465)"),
    TlsMode.NONE: lazy_gettext("None (only for a relay on this host or a private network)"),
}


class RelayError(ValueError):
    """The submitted relay settings are not usable; `errors` maps each field to a message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class RelaySecretError(RuntimeError):
    """A relay's password cannot be read with the configured MAILER_DATA_KEYS."""


class Relay(Model):
    """One named SMTP relay; its password sealed (password_encrypted), None when it needs no login."""

    __tablename__ = "relays"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int]
    tls_mode: Mapped[str] = mapped_column(String(10), default=TlsMode.STARTTLS)
    verify_tls: Mapped[bool] = mapped_column(default=True)
    username: Mapped[str] = mapped_column(String(255), default="")
    password_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)  # MultiFernet token
    rate_per_second: Mapped[float] = mapped_column(Float, default=0.0)  # 0: only the global SEND_RATE
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def has_password(self) -> bool:
        return self.password_encrypted is not None

    def password(self) -> str:
        """The decrypted password ("" when none is set)."""
        if self.password_encrypted is None:
            return ""
        try:
            return master_keys().decrypt(bytes(self.password_encrypted)).decode()
        except (InvalidToken, PrivacyError):
            raise RelaySecretError(
                f"The password of relay {self.name} cannot be decrypted with the configured "
                "MAILER_DATA_KEYS; keep the old key in MAILER_DATA_KEYS until `flask keys reencrypt` has run."
            ) from None

    def smtp_url(self) -> str:
        """The relay as an SMTP_URL (mailer.delivery.transport.SmtpSettings reads it); holds the password."""
        scheme = "smtps" if self.tls_mode == TlsMode.TLS else "smtp"
        login = ""
        if self.username:
            login = quote(self.username, safe="") + ":" + quote(self.password(), safe="") + "@"
        query = {"starttls": "1" if self.tls_mode == TlsMode.STARTTLS else "0"}
        if not self.verify_tls:
            query["verify"] = "0"
        return f"{scheme}://{login}{self.host}:{self.port}?{urlencode(query)}"


@dataclass
class RelayFields:
    """What the relay form submits; an empty password keeps the stored one (clear_password removes it)."""

    name: str = ""
    host: str = ""
    port: int | None = None
    tls_mode: str = TlsMode.STARTTLS
    verify_tls: bool = True
    username: str = ""
    password: str = ""
    clear_password: bool = False
    rate_per_second: float | None = 0.0


def all_relays() -> list[Relay]:
    return list(db.session.execute(select(Relay).order_by(Relay.name)).scalars())


def relay_by_name(name: str) -> Relay | None:
    return db.session.execute(select(Relay).where(Relay.name == name)).scalar_one_or_none()


def _clean(fields: RelayFields, relay: Relay | None) -> dict:
    errors: dict[str, str] = {}
    name = (fields.name or "").strip().lower()
    if not _NAME.match(name):
        errors["name"] = "Use 1–63 lower-case letters, digits, hyphens or underscores for the name."
    elif name == DEFAULT_RELAY_NAME:
        errors["name"] = "“default” names the relay of SMTP_URL; choose another name."
    else:
        other = relay_by_name(name)
        if other is not None and other is not relay:
            errors["name"] = f"There is already a relay named “{name}”."
    host = (fields.host or "").strip()
    if not _HOST.match(host):
        errors["host"] = "Enter the relay's host name or IP address (e.g. smtp.example.com)."
    port = fields.port
    if port is None or not 1 <= port <= 65535:
        errors["port"] = "Enter a port between 1 and 65535 (587 for STARTTLS, 465 for TLS)."
    if fields.tls_mode not in tuple(TlsMode):
        errors["tls_mode"] = "Choose how the connection is protected."
    username = (fields.username or "").strip()
    if len(username) > 255 or has_controls(username):
        errors["username"] = "The user name must be one line of at most 255 characters."
    if len(fields.password or "") > 1000 or has_controls(fields.password or ""):
        errors["password"] = "The password must be one line of at most 1,000 characters."
    rate = fields.rate_per_second
    if rate is None or not 0 <= rate <= 100_000:
        errors["rate_per_second"] = "Enter a rate between 0 (no own limit) and 100,000 messages a second."
    if errors:
        raise RelayError(errors)
    return {
        "name": name,
        "host": host,
        "port": port,
        "tls_mode": fields.tls_mode,
        "verify_tls": bool(fields.verify_tls),
        "username": username,
        "rate_per_second": float(rate or 0),
    }


def save_relay(relay: Relay | None, fields: RelayFields, actor=None, ip: str | None = None) -> Relay:
    """Create (relay None) or change a relay, audited; the caller commits. The password is never logged."""
    values = _clean(fields, relay)
    created = relay is None
    if relay is None:
        relay = Relay()
        db.session.add(relay)
    for key, value in values.items():
        setattr(relay, key, value)
    password_change = "kept"
    if fields.password:
        relay.password_encrypted = master_keys().encrypt(fields.password.encode())
        password_change = "set"
    elif fields.clear_password:
        relay.password_encrypted = None
        password_change = "removed"
    relay.updated_at = utcnow()
    db.session.flush()
    details = {k: v for k, v in values.items() if k != "username"} | {"password": password_change}
    audit.record(
        "relay.create" if created else "relay.update", "relay", relay.name, details, actor=actor, ip=ip
    )
    return relay


def reseal_relays() -> int:
    """Re-encrypt every relay password under the newest master key (`flask keys reencrypt`)."""
    keys = master_keys()
    count = 0
    for relay in db.session.execute(select(Relay).where(Relay.password_encrypted.is_not(None))).scalars():
        try:
            relay.password_encrypted = keys.rotate(bytes(relay.password_encrypted or b""))
        except InvalidToken:
            raise RelaySecretError(
                f"The password of relay {relay.name} is not readable with any configured key."
            ) from None
        count += 1
    return count
