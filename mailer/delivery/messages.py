"""MIME building (REQUIREMENTS D): multipart/alternative, Date, Message-ID on the sending domain, safe folding."""

from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid

from mailer.core.text import header_safe

# Headers long URLs live in must not be folded into RFC 2047 encoded-words (REQUIREMENTS A2).
WIRE_POLICY = policy.SMTP.clone(max_line_length=998)


def parse_sender(value: str) -> Address:
    """Turn 'Name <user@example.com>' into an Address; raises ValueError when it is not exactly one address."""
    pairs = getaddresses([value])
    if len(pairs) != 1 or "@" not in pairs[0][1]:
        raise ValueError(f"not a single address: {value!r}")
    name, addr = pairs[0]
    local, _, domain = addr.rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


def build_message(
    *,
    sender: Address,
    to_addr: str,
    to_name: str | None,
    subject: str,
    text: str,
    html: str,
    extra_headers: dict[str, str] | None = None,
    reply_to: str | None = None,
) -> EmailMessage:
    """A multipart/alternative message, text first and HTML last, with Date and a Message-ID on our domain."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = Address(display_name=header_safe(sender.display_name), addr_spec=sender.addr_spec)
    msg["To"] = Address(display_name=header_safe(to_name), addr_spec=to_addr)
    msg["Subject"] = header_safe(subject)  # the last defence: no control character reaches a header
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.domain)
    if reply_to:
        msg["Reply-To"] = reply_to
    for name, value in (extra_headers or {}).items():
        msg[name] = value
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


def to_wire(msg: EmailMessage) -> bytes:
    """Serialise for SMTP: CRLF line ends, headers folded only where they can be (max 998 octets)."""
    return msg.as_bytes(policy=WIRE_POLICY)
