"""Sign-ups arriving through the API: the same double opt-in as the forms (REQUIREMENTS F1, G, J3, J4).

The integration tells us what the person was shown (the wording and the page it was on); that wording becomes an
immutable Notice, and each ticked list one "requested" ledger event with source "api:<key prefix>". Then the usual
confirmation email goes out (with the usual per-address and per-domain caps). Nothing in the outcome depends on
whether the address was known, so the API answer can be identical for every address.
"""

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select

from mailer.core.extensions import db
from mailer.staff.models.api_keys import ApiKey
from mailer.contacts.models.contact import Contact
from mailer.subscriptions.models.lists import MailingList
from mailer.contacts.operations import AddressError, clean_name, get_or_create_contact, normalise_email
from mailer.consent.ledger import RequestContext, record_consent
from mailer.consent.notices import publish_notice
from mailer.subscriptions.signup import request_confirmation_email, request_subscription
from mailer.contacts.suppression import is_suppressed
from mailer.core.text import TextRefused, has_controls, refusal_message

MAX_LISTS = 50
MAX_NOTICE_TEXT = 10_000
MAX_URL_LENGTH = 2000
MAX_USER_AGENT = 512
PUBLIC_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,32}$")


class ApiSignupError(ValueError):
    """The sign-up cannot be accepted; `field_name` says which part of the request is wrong."""

    def __init__(self, message: str, field_name: str):
        super().__init__(message)
        self.field_name = field_name


@dataclass
class ApiSignup:
    """A sign-up as an integration sent it (types already checked by the view)."""

    email: str
    lists: list[str]
    consent_text: str
    source_url: str
    name: str = ""
    ip: str | None = None
    user_agent: str | None = None


@dataclass
class CheckedSignup:
    """A sign-up that passed every check: nothing is written before this exists."""

    email: str
    name: str
    mailing_lists: list[MailingList]
    consent_text: str
    source_url: str
    ip: str | None
    user_agent: str | None


def _clean_text(value: str, limit: int, field_name: str, what: str, multiline: bool = False) -> str:
    if len(value) > limit:
        raise ApiSignupError(f"The {what} is too long ({limit} characters at most).", field_name)
    if has_controls(value, multiline=multiline):
        raise ApiSignupError(refusal_message(f"The {what}"), field_name)
    return value


def validate(inp: ApiSignup) -> CheckedSignup:
    """Check a sign-up completely before anything is written."""
    try:
        email = normalise_email(inp.email)
    except AddressError as exc:
        raise ApiSignupError(str(exc), "email") from None
    try:
        name = clean_name(inp.name)
    except TextRefused as exc:
        raise ApiSignupError(str(exc), "name") from None
    wanted = list(dict.fromkeys(inp.lists))
    if not wanted:
        raise ApiSignupError("Name at least one list the person ticked.", "lists")
    if len(wanted) > MAX_LISTS:
        raise ApiSignupError(f"At most {MAX_LISTS} lists per sign-up.", "lists")
    well_formed = [public_id for public_id in wanted if PUBLIC_ID_RE.match(public_id)]
    found = {
        lst.public_id: lst
        for lst in db.session.execute(
            select(MailingList).where(MailingList.public_id.in_(well_formed))
        ).scalars()
    }
    unknown = [public_id for public_id in wanted if public_id not in found]
    if unknown:
        shown = [
            public_id if PUBLIC_ID_RE.match(public_id) else repr(public_id[:32]) for public_id in unknown[:10]
        ]
        raise ApiSignupError("Unknown list id(s): " + ", ".join(shown) + ".", "lists")
    lists = [found[public_id] for public_id in wanted]
    if any(lst.purpose is None for lst in lists):
        raise ApiSignupError("One of the lists cannot take sign-ups (it has no consent purpose).", "lists")
    text = _clean_text(
        (inp.consent_text or "").strip(), MAX_NOTICE_TEXT, "consent.text", "consent text", multiline=True
    )
    if len(text) < 10:
        raise ApiSignupError(
            "Send the exact words the person was shown next to the checkbox (consent.text).", "consent.text"
        )
    source_url = (inp.source_url or "").strip()
    parts = urlsplit(source_url)
    if (
        len(source_url) > MAX_URL_LENGTH
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or has_controls(source_url)
        or any(ch.isspace() for ch in source_url)
    ):
        raise ApiSignupError(
            "consent.source_url must be the http(s) address of the page the person signed up on.",
            "consent.source_url",
        )
    ip = (inp.ip or "").strip() or None
    if ip is not None:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise ApiSignupError("consent.ip is not an IPv4 or IPv6 address.", "consent.ip") from None
    user_agent = (
        _clean_text((inp.user_agent or "").strip(), MAX_USER_AGENT, "consent.user_agent", "user agent")
        or None
    )
    return CheckedSignup(email, name, lists, text, source_url, ip, user_agent)


def notice_key(key: ApiKey, source_url: str) -> str:
    """One notice history per key and page, so versions only change when that page's wording changes."""
    return f"api:{key.prefix}:{hashlib.sha256(source_url.encode()).hexdigest()[:16]}"


def subscribe(checked: CheckedSignup, key: ApiKey) -> None:
    """Record the sign-up as pending and send the confirmation email; silent about the address's state."""
    source = f"api:{key.prefix}"
    ctx = RequestContext(source=source, ip=checked.ip, user_agent=checked.user_agent)
    contact, _ = get_or_create_contact(checked.email, source=source, name=checked.name or None)
    if contact.status != "active":
        db.session.rollback()
        return  # restricted (Art. 18) or erased: not processed; the caller's answer stays the same
    if checked.name and not contact.name:
        contact.name = checked.name
    notice = publish_notice(
        notice_key(key, checked.source_url),
        {"via": "api", "source_url": checked.source_url, "intro": checked.consent_text},
    )
    suppressed = is_suppressed(contact.email_hash)
    pending = False
    for mailing_list in checked.mailing_lists:
        if request_subscription(contact, mailing_list.id, source, reconfirm=suppressed):
            record_consent(
                contact,
                mailing_list.purpose,
                "requested",
                ctx,
                notice=notice,
                details={"api_key": key.prefix, "source_url": checked.source_url},
            )
            pending = True
    db.session.commit()
    if pending:
        request_confirmation_email(contact)
