"""POST /subscriptions: a sign-up collected by an integration, through the same double opt-in as the forms.

The integration tells us what the person was shown (the wording and the page it was on); that wording becomes
an immutable Notice, and each ticked list one "requested" ledger event with source "api:<key prefix>"
(REQUIREMENTS F1, G, J3, J4). Nothing in the answer depends on whether the address was known.
"""

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import g

from mailer.api.errors import ApiError
from mailer.api.fields import Part, RequestSchema, Text, TextList
from mailer.api.inputs import invalid
from mailer.api.routing import api_route
from mailer.api.schemas import SignupAcceptedSchema
from mailer.consent.ledger import RequestContext
from mailer.contacts.operations import AddressError, clean_name, normalise_email
from mailer.core.text import TextRefused, has_controls, refusal_message
from mailer.core.web import with_response_floor
from mailer.staff.models.api_keys import ApiKey
from mailer.subscriptions.lists import lists_by_public_id
from mailer.subscriptions.models.lists import MailingList
from mailer.subscriptions.operations import Door, sign_up

ACCEPTED_MESSAGE = (
    "Thank you. If this address can receive our mail, a confirmation email is on its way; the "
    "subscription starts when the person follows its link."
)
MAX_LISTS = 50
MAX_NOTICE_TEXT = 10_000
MAX_URL_LENGTH = 2000
MAX_USER_AGENT = 512
PUBLIC_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,32}$")


class SignupConsent(RequestSchema):
    """Proof of what the person was shown; stored as an immutable notice."""

    text = Text(
        required=True,
        multiline=True,
        metadata={
            "minLength": 10,
            "maxLength": MAX_NOTICE_TEXT,
            "description": "The exact wording shown next to the checkbox(es).",
        },
    )
    source_url = Text(
        required=True, metadata={"format": "uri", "description": "The page the person signed up on."}
    )
    ip = Text(allow_none=True, metadata={"description": "The person's IP address, if known."})
    user_agent = Text(allow_none=True, metadata={"maxLength": MAX_USER_AGENT})


class SignupRequest(RequestSchema):
    email = Text(required=True, metadata={"maxLength": 254})
    name = Text(allow_none=True, metadata={"maxLength": 200})
    lists = TextList(
        required=True,
        max_items=MAX_LISTS,
        metadata={
            "minItems": 1,
            "description": "Public ids of the lists whose (unticked) checkbox the person ticked.",
        },
    )
    consent = Part(SignupConsent, required=True)


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
        raise invalid_field(f"The {what} is too long ({limit} characters at most).", field_name)
    if has_controls(value, multiline=multiline):
        raise invalid_field(refusal_message(f"The {what}"), field_name)
    return value


def checked_lists(given: list[str]) -> list[MailingList]:
    """The lists a request names (each once): 422 naming `lists` when none, too many, unknown (or deleted),
    archived, or without a consent purpose."""
    wanted = list(dict.fromkeys(given))
    if not wanted:
        raise invalid_field("Name at least one list the person ticked.", "lists")
    if len(wanted) > MAX_LISTS:
        raise invalid_field(f"At most {MAX_LISTS} lists per sign-up.", "lists")
    well_formed = [public_id for public_id in wanted if PUBLIC_ID_RE.match(public_id)]
    found = lists_by_public_id(well_formed)
    unknown = [
        public_id for public_id in wanted if public_id not in found or found[public_id].deleted_at is not None
    ]
    if unknown:
        shown = [
            public_id if PUBLIC_ID_RE.match(public_id) else repr(public_id[:32]) for public_id in unknown[:10]
        ]
        raise invalid_field("Unknown list id(s): " + ", ".join(shown) + ".", "lists")
    lists = [found[public_id] for public_id in wanted]
    if archived := [lst.public_id for lst in lists if lst.archived_at is not None]:
        raise invalid_field("Archived lists take no sign-ups: " + ", ".join(archived) + ".", "lists")
    if any(lst.purpose is None for lst in lists):
        raise invalid_field("One of the lists cannot take sign-ups (it has no consent purpose).", "lists")
    return lists


def validate(inp: ApiSignup) -> CheckedSignup:
    """Check a sign-up completely before anything is written."""
    try:
        email = normalise_email(inp.email)
    except AddressError as exc:
        raise invalid_field(str(exc), "email") from None
    try:
        name = clean_name(inp.name)
    except TextRefused as exc:
        raise invalid_field(str(exc), "name") from None
    lists = checked_lists(inp.lists)
    text = _clean_text(
        (inp.consent_text or "").strip(), MAX_NOTICE_TEXT, "consent.text", "consent text", multiline=True
    )
    if len(text) < 10:
        raise invalid_field(
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
        raise invalid_field(
            "consent.source_url must be the http(s) address of the page the person signed up on.",
            "consent.source_url",
        )
    ip = (inp.ip or "").strip() or None
    if ip is not None:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise invalid_field("consent.ip is not an IPv4 or IPv6 address.", "consent.ip") from None
    user_agent = (
        _clean_text((inp.user_agent or "").strip(), MAX_USER_AGENT, "consent.user_agent", "user agent")
        or None
    )
    return CheckedSignup(email, name, lists, text, source_url, ip, user_agent)


def invalid_field(message: str, field_name: str) -> ApiError:
    """A 422 naming the part of the request that is wrong."""
    return invalid(field_name, message)


def notice_key(key: ApiKey, source_url: str) -> str:
    """One notice history per key and page, so versions only change when that page's wording changes."""
    return f"api:{key.prefix}:{hashlib.sha256(source_url.encode()).hexdigest()[:16]}"


@api_route(
    "/subscriptions",
    ("POST",),
    body=SignupRequest,
    responses={202: SignupAcceptedSchema},
    summary="Start a double opt-in sign-up",
    operation_id="createSubscription",
)
@with_response_floor
def subscriptions_create(body: dict):
    """Ask a person to confirm a subscription

    Records a pending subscription per list and the wording shown (as a versioned notice), then emails a
    confirmation link. The answer (and its time: J3) is identical whether the address is new, pending,
    confirmed or suppressed.
    """
    consent = body["consent"]
    checked = validate(
        ApiSignup(
            email=body["email"],
            name=body.get("name") or "",
            lists=body["lists"],
            consent_text=consent["text"],
            source_url=consent["source_url"],
            ip=consent.get("ip"),
            user_agent=consent.get("user_agent"),
        )
    )
    key: ApiKey = g.api_key
    source = f"api:{key.prefix}"
    door = Door(
        RequestContext(source, checked.ip, checked.user_agent),
        source,
        details={"api_key": key.prefix, "source_url": checked.source_url},
    )
    shown = {"via": "api", "source_url": checked.source_url, "intro": checked.consent_text}
    purposes = [mailing_list.purpose for mailing_list in checked.mailing_lists]
    sign_up(checked.email, checked.name, purposes, door, publish=(notice_key(key, checked.source_url), shown))
    return {"status": "accepted", "message": ACCEPTED_MESSAGE}, 202
