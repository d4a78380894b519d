"""Shared pieces of the transactional tests: a stored template and a DKIM key for the sender's domain."""

import re

import dkim

from mailer.core.extensions import db
from mailer.delivery.dkim import generate_key, public_key_record, signer_for_domain
from mailer.transactional.templates import save_template

DOMAIN = "shop.example"
SETTINGS = {
    "MAILER_FROM": f"Shop <orders@{DOMAIN}>",
    "MAILER_ORGANISATION": "Example Shop",
    "MAILER_POSTAL_ADDRESS": "1 Main St, 10115 Berlin",
    "MAILER_BASE_URL": "https://mail.shop.example",
}
RESET_BODY = """Hello {{ contact.first_name | default("there") }},

[Choose a new password]({{ data.reset_url }})

Your code: **{{ data.code }}**
"""


def reset_template(**changes):
    """The password-reset template, saved through the service as the admin page does."""
    fields = {
        "key": "password-reset",
        "name": "Password reset",
        "subject": "Your code {{ data.code }}",
        "body": RESET_BODY,
        "body_format": "markdown",
        "reply_to": "help@shop.example",
        **changes,
    }
    return save_template(fields)


def signing_key() -> bytes:
    """An active DKIM key for the sender's domain; its public TXT record."""
    generate_key(DOMAIN, "tx2026")
    db.session.commit()
    return public_key_record(signer_for_domain(DOMAIN).key.public_key()).encode()


def verifies(raw: bytes, record: bytes) -> bool:
    """dkimpy verifies the received bytes offline against our published record (REQUIREMENTS C4)."""
    wanted = f"tx2026._domainkey.{DOMAIN}.".encode()
    return dkim.verify(raw, dnsfunc=lambda name, timeout=5: record if name == wanted else None)


def head(raw: bytes) -> str:
    """The raw header block, unfolded."""
    return re.sub(r"\r\n[ \t]", " ", raw.split(b"\r\n\r\n", 1)[0].decode())
