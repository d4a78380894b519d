"""SMTP answers and bounce addresses: classify replies (RFC 3463, REQUIREMENTS E2) and VERP (D4, E5).

A VERP envelope sender names the delivery it belongs to, with a short keyed MAC so a forged bounce cannot
touch anyone else's delivery: bounces+<delivery id in hex>-<mac>@<bounce domain>.
"""

import hmac
import re
import smtplib
from dataclasses import dataclass

from flask import current_app

from mailer.core.security import keyed_hash
from mailer.organisation import settings as organisation_settings

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_BASIC = re.compile(r"(?<![\d.])([45])\d\d(?![\d.])")
_VERP_RE = re.compile(
    r"^(?P<local>[^+@]+)\+(?P<id>[0-9a-f]{1,16})-(?P<mac>[0-9a-f]{12})@(?P<domain>.+)$", re.I
)

# What a final SMTP answer means for the delivery and the address.
TEMPORARY = "temporary"  # 4xx or no answer: retry later
SOFT = "soft"  # 5.2.2 mailbox full: retried like a temporary failure, never suppresses
POLICY = "policy"  # 5.7.x: our authentication/reputation setup was refused; alert, don't blame the address
HARD = "hard"  # any other 5.x.x (or a 5xx without one): permanent; suppress the address


@dataclass(frozen=True)
class SmtpOutcome:
    """A failed attempt: its class, the SMTP code (None when the connection failed) and the server's words."""

    kind: str
    code: int | None
    text: str

    @property
    def retryable(self) -> bool:
        return self.kind in (TEMPORARY, SOFT)

    def describe(self) -> str:
        """One line for the delivery's reason column and the UI."""
        prefix = f"{self.code} " if self.code else ""
        return (prefix + self.text)[:300]


def status_code(status: str, diagnostic: str = "") -> str:
    """The enhanced status code (e.g. 5.1.1) from Status, else the diagnostic, else the SMTP reply's class."""
    for text in (status, diagnostic):
        match = _ENHANCED.search(text or "")
        if match:
            return ".".join(match.groups())
    match = _BASIC.search(diagnostic or "")
    return f"{match.group(1)}.0.0" if match else ""


def classify_failure(status: str, diagnostic: str = "") -> str:
    """hard, soft or policy per RFC 3463 with REQUIREMENTS E2's exceptions; unknown failures count as soft.

    The one rule for a refusal now (classify) and a delivery report later (mailer.deliverability.bounces).
    """
    code = status_code(status, diagnostic)
    if code == "5.2.2":
        return SOFT  # mailbox full: the address exists
    if code.startswith("5.7."):
        return POLICY  # refused for policy/authentication: our setup, not the address
    if code.startswith("5."):
        return HARD
    return SOFT


def classify(code: int | None, text: str) -> str:
    """The class of a final SMTP reply: temporary for 4xx or no answer, else the delivery reports' rule, so an
    address is judged alike whether it is refused now or bounces later."""
    match = _ENHANCED.search(text or "")
    if code is None or 400 <= code < 500 or (match and match.group(1) == "4"):
        return TEMPORARY
    return classify_failure(match.group(0) if match else "", f"{code} {text or ''}")


def outcome_of(exc: Exception) -> SmtpOutcome:
    """Turn an smtplib or socket error into a classified outcome."""
    answer: bytes | str
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, answer = next(iter(exc.recipients.values()))
    elif isinstance(exc, smtplib.SMTPResponseException):
        code, answer = exc.smtp_code, exc.smtp_error
    else:
        return SmtpOutcome(TEMPORARY, None, f"connection failed: {exc.__class__.__name__}: {exc}"[:300])
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
    text = " ".join(text.split())
    return SmtpOutcome(classify(code, text), code, text)


def _mac(delivery_id: int) -> str:
    return keyed_hash(f"verp:{delivery_id}")[:12]


def bounce_base() -> tuple[str, str]:
    """(local part, domain) of the bounce address: MAILER_BOUNCE_ADDRESS, else bounces@<sender's domain>."""
    configured = current_app.config.get("MAILER_BOUNCE_ADDRESS") or ""
    if configured:
        local, _, domain = configured.rpartition("@")
        return local, domain
    return "bounces", organisation_settings.sender().domain


def verp_address(delivery_id: int, base: tuple[str, str] | None = None) -> str:
    """The envelope sender for one delivery."""
    local, domain = base or bounce_base()
    return f"{local}+{delivery_id:x}-{_mac(delivery_id)}@{domain}"


def delivery_id_from_verp(address: str) -> int | None:
    """The delivery a bounce address names, or None when it is not one of ours (or was tampered with)."""
    match = _VERP_RE.match((address or "").strip().strip("<>"))
    if not match:
        return None
    delivery_id = int(match.group("id"), 16)
    return delivery_id if hmac.compare_digest(match.group("mac").lower(), _mac(delivery_id)) else None
