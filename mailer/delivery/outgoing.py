"""The one exit for every outgoing message: composed by the skeleton's header and MIME rules (REQUIREMENTS D),
DKIM-signed when the From domain has an active key (C1-C3), then handed to the transport.

Campaigns build their per-campaign skeleton once for speed (mailer.campaigns.composition) and hand each signed
message over here too (`hand_over`), or through the transport's pipeline in batches; every other message is an
`Outgoing` value passed to `send`.
"""

import enum
import secrets
from dataclasses import dataclass
from email.headerregistry import Address

from mailer.delivery.dkim import DkimSigner, signer_for_domain
from mailer.delivery.failover import Route
from mailer.delivery.models import Category
from mailer.delivery.skeleton import LEADING_DOT, WSP_CHANGE, MessageSkeleton
from mailer.delivery.transport import SmtpReply, get_transport
from mailer.organisation import settings as organisation_settings
from mailer.organisation.settings import parse_sender  # noqa: F401  (other modules import it from here)


class MessageKind(enum.StrEnum):
    """Every kind of message the platform sends."""

    CONFIRMATION = "confirmation"
    PREFERENCES_LINK = "preferences-link"
    PRIVACY_VERIFICATION = "privacy-verification"
    ADDRESS_RECONFIRMATION = "address-reconfirmation"
    EXPORT_LINK = "export-link"
    REPERMISSION = "repermission"
    DEADLINE_REMINDER = "deadline-reminder"
    STAFF_INVITATION = "staff-invitation"
    STAFF_LOCKOUT = "staff-lockout"
    CAMPAIGN_ALERT = "campaign-alert"
    WEBHOOK_ALERT = "webhook-alert"
    CAMPAIGN = "campaign"
    CAMPAIGN_TEST = "campaign-test"
    TRANSACTIONAL = "transactional"  # an integration's message from a stored template (mailer.transactional)


MARKETING_KINDS = frozenset({MessageKind.CAMPAIGN, MessageKind.CAMPAIGN_TEST})
INTERNAL_KINDS = frozenset(
    {MessageKind.DEADLINE_REMINDER, MessageKind.CAMPAIGN_ALERT, MessageKind.WEBHOOK_ALERT}
)


def category_of(kind: MessageKind) -> Category:
    """Marketing for campaigns, internal for mail to staff about work to do, transactional for the rest."""
    if kind in MARKETING_KINDS:
        return Category.MARKETING
    return Category.INTERNAL if kind in INTERNAL_KINDS else Category.TRANSACTIONAL


def default_sender() -> Address:
    """The platform's own From (the Settings page's sender, or MAILER_FROM)."""
    return organisation_settings.sender()


@dataclass(frozen=True)
class Outgoing:
    """One message to one recipient, before composition."""

    kind: MessageKind
    sender: Address
    to_addr: str
    to_name: str | None
    subject: str
    html: str
    text: str
    headers: tuple[tuple[str, str], ...] = ()
    reply_to: str = ""
    unsubscribe_url: str = ""  # marketing only: List-Unsubscribe and List-Unsubscribe-Post (A1, A7)

    @property
    def category(self) -> Category:
        return category_of(self.kind)


@dataclass(frozen=True)
class Composed:
    """A message as it leaves: signed bytes, its Message-ID and whether SMTP may skip dot-stuffing."""

    raw: bytes
    message_id: str
    dot_safe: bool


def sign(signer: DkimSigner | None, raw: bytes, flags: int) -> bytes:
    """The message with its DKIM-Signature when there is a signer (C1: nothing changes after signing)."""
    if signer is None:
        return raw
    return signer.sign(raw, body_is_relaxed=not flags & WSP_CHANGE)


def compose(message: Outgoing) -> Composed:
    """MIME per REQUIREMENTS D, Message-ID on the sending domain, DKIM-signed when the domain has a key."""
    if message.unsubscribe_url and message.kind not in MARKETING_KINDS:
        raise ValueError(f"{message.kind} mail carries no one-click unsubscribe (REQUIREMENTS A7)")
    skeleton = MessageSkeleton(
        from_name=message.sender.display_name,
        from_email=message.sender.addr_spec,
        reply_to=message.reply_to,
        one_click=bool(message.unsubscribe_url),
        extra_headers=message.headers,
    )
    message_id = skeleton.message_id(secrets.token_hex(8))
    raw, flags = skeleton.assemble(
        to_email=message.to_addr,
        to_name=message.to_name,
        subject=message.subject,
        message_id=message_id,
        unsubscribe_url=message.unsubscribe_url,
        text=message.text,
        html=message.html,
    )
    signed = sign(signer_for_domain(skeleton.domain), raw, flags)
    return Composed(signed, message_id, dot_safe=not flags & LEADING_DOT)


def hand_over(
    envelope_from: str,
    to_addr: str,
    raw: bytes,
    *,
    kind: MessageKind,
    subject: str,
    message_id: str,
    route: Route | None = None,
) -> SmtpReply:
    """Give one finished message to the transport (SMTP relay, or the local outbox in embedded mode), or to
    the relays of a route chosen with `failover.relay_route` (None: the default relay)."""
    metadata = {"subject": subject, "message_id": message_id, "category": category_of(kind)}
    if route is not None:
        return route.send(envelope_from, to_addr, raw, **metadata)
    return get_transport().send(envelope_from, [to_addr], raw, **metadata)


def send(message: Outgoing, route: Route | None = None) -> str:
    """Compose, sign and send one message, through a chosen route of relays or the default relay; returns its
    Message-ID (raises smtplib errors for the caller)."""
    composed = compose(message)
    hand_over(
        message.sender.addr_spec,
        message.to_addr,
        composed.raw,
        kind=message.kind,
        subject=message.subject,
        message_id=composed.message_id,
        route=route,
    )
    return composed.message_id
