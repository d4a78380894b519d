"""The one door for mail arriving at our bounce and feedback addresses (REQUIREMENTS E1-E5).

Cap the size, parse leniently with the stdlib email package, and act only when the report names a message we
sent: a correctly signed VERP address (the envelope recipient, the report's own To/Delivered-To, the original
message's Return-Path or the ARF Original-Mail-From) or a Message-ID stored on one of our deliveries. Anything
else changes nothing. Mail to a signed mailto: unsubscribe address (RFC 2369) unsubscribes as the one-click
link does. The listener, the bounce mailbox, the CLI and the tests all come through process_inbound().
"""

import logging
import re
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser, HeaderParser
from email.utils import getaddresses

from flask import current_app
from sqlalchemy import or_, select

from mailer.campaigns.models import Campaign
from mailer.consent.ledger import RequestContext
from mailer.contacts.models.contact import Contact
from mailer.core import metrics
from mailer.core.extensions import db
from mailer.core.logs import log_context
from mailer.core.security import TokenExpired, TokenInvalid
from mailer.core.urls import delivery_of_unsubscribe_address, is_unsubscribe_address
from mailer.deliverability import bounces, complaints
from mailer.deliverability.domains import domain_of
from mailer.deliverability.provider_batch import among
from mailer.delivery.models import Delivery
from mailer.delivery.replies import bounce_base, delivery_id_from_verp
from mailer.subscriptions.models.lists import MailingList
from mailer.subscriptions.unsubscribe import unsubscribe_from

log = logging.getLogger(__name__)
ORIGINAL_PARTS = (
    "message/rfc822",
    "message/global",
    "text/rfc822-headers",
    "message/rfc822-headers",
    "message/global-headers",
)
ADDRESS_HEADERS = ("To", "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To")
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,240}>")
_OUR_ID = re.compile(r"^<(\d{1,18})\.")  # the composer's Message-IDs start with the delivery id
MAILTO_UNSUBSCRIBE_SOURCE = "mailto-unsubscribe"  # the ledger's source of an unsubscribe by email


class ReportRefusedError(ValueError):
    """A message we will not read at all (e.g. larger than BOUNCE_MAX_REPORT_BYTES)."""


@dataclass(frozen=True)
class InboundResult:
    """recorded | duplicate | ignored (not a report) | unmatched (not about our mail),
    with one line saying why."""

    status: str
    detail: str
    kind: str = ""
    delivery_id: int | None = None


def accepts_recipient(address: str) -> bool:
    """Whether the listener takes mail for this address: a valid VERP address,
    the bounce or complaints address."""
    address = (address or "").strip().strip("<>").lower()
    plain = {
        "@".join(bounce_base()).lower(),
        (current_app.config.get("MAILER_COMPLAINTS_ADDRESS") or "").lower(),
    }
    return address in plain - {""} or delivery_id_from_verp(address) is not None


def _original(msg: Message) -> Message | None:
    """The returned original message (or its headers), however the reporter attached it."""
    for part in msg.walk():
        if part is msg or part.get_content_type() not in ORIGINAL_PARTS:
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return payload[0]
        text = bounces.payload_bytes(part)
        return HeaderParser().parsestr(text.decode("utf-8", "replace").lstrip())
    return None


def _verp_candidates(msg: Message, original: Message | None, envelope_rcpts, arf) -> list[str]:
    found = list(envelope_rcpts)
    for name in ADDRESS_HEADERS:
        found += [addr for _, addr in getaddresses([str(v) for v in msg.get_all(name, [])])]
    if original is not None:
        found += [addr for _, addr in getaddresses([str(v) for v in original.get_all("Return-Path", [])])]
    if arf is not None and arf.original_mail_from:
        found.append(arf.original_mail_from)
    return found


def delivery_by_message_id(message_id: str) -> Delivery | None:
    """The delivery that carried this Message-ID (ours start with the delivery id: one primary-key read)."""
    match = _OUR_ID.match(message_id)
    if match:
        delivery = db.session.get(Delivery, int(match.group(1)))
        return delivery if delivery is not None and delivery.message_id == message_id else None
    return db.session.execute(select(Delivery).where(Delivery.message_id == message_id).limit(1)).scalar()


def deliveries_by_message_ids(message_ids: list[str]) -> dict[str, Delivery]:
    """delivery_by_message_id for many at once (one query): the deliveries found, by Message-ID."""
    wanted = set(message_ids)
    ours = {int(m.group(1)): mid for mid in wanted if (m := _OUR_ID.match(mid))}
    others = [mid for mid in wanted if not _OUR_ID.match(mid)]
    condition = []
    if ours:
        condition.append(among(Delivery.id, ours))
    if others:
        condition.append(among(Delivery.message_id, others))
    if not condition:
        return {}
    rows = db.session.execute(select(Delivery).where(or_(*condition))).scalars()
    return {d.message_id: d for d in rows if d.message_id and d.message_id in wanted}


def find_delivery(msg: Message, envelope_rcpts=(), arf=None) -> Delivery | None:
    """The delivery a report is about (E5), or None when it names nothing we sent."""
    original = _original(msg)
    for address in _verp_candidates(msg, original, envelope_rcpts, arf):
        delivery_id = delivery_id_from_verp(address)
        delivery = db.session.get(Delivery, delivery_id) if delivery_id is not None else None
        if delivery is not None:
            return delivery
    if original is not None:
        for message_id in _MESSAGE_ID.findall(str(original.get("Message-ID", ""))):
            delivery = delivery_by_message_id(message_id)
            if delivery is not None and delivery.message_id:
                return delivery
    return None


def process_report(raw: bytes, envelope_rcpts=(), source: str = "smtp") -> InboundResult:
    """Read one inbound message and act on it if it is a DSN or ARF report about our mail; commits. `source`
    names the way it came (the SMTP listener, a mailbox …) in the metrics."""
    try:
        result = _process_report(raw, envelope_rcpts)
    except ReportRefusedError:
        metrics.report_processed(source, None, "refused")
        raise
    metrics.report_processed(source, result.kind, result.status)
    return result


def _process_report(raw: bytes, envelope_rcpts=()) -> InboundResult:
    limit = current_app.config["BOUNCE_MAX_REPORT_BYTES"]
    if len(raw) > limit:
        raise ReportRefusedError(
            f"report of {len(raw)} bytes is larger than the {limit}-byte limit: not read"
        )
    try:
        msg = BytesParser(policy=policy.compat32).parsebytes(raw)
        arf = complaints.parse_arf(msg)
        dsn = None if arf is not None else bounces.parse_dsn(msg)
        delivery = find_delivery(msg, envelope_rcpts, arf) if arf is not None or dsn is not None else None
    except (ValueError, LookupError, TypeError, AttributeError) as exc:
        # Malformed beyond lenient reading: answering "try later" would only bring the same bytes back.
        log.warning("Inbound message could not be read as a report: %s: %s", exc.__class__.__name__, exc)
        return InboundResult(
            "ignored", "could not be read as a delivery status notification or feedback report"
        )
    if arf is None and dsn is None:
        return InboundResult(
            "ignored", "not a delivery status notification or feedback report: nothing to do"
        )
    if delivery is None:
        log.info("Inbound report ignored: it names no message we sent")
        return InboundResult(
            "unmatched",
            "it does not reference a message we sent (no valid VERP address or "
            "known Message-ID): nothing changed",
        )
    with log_context(campaign_id=delivery.campaign_id, delivery_id=delivery.id):
        campaign = db.session.get(Campaign, delivery.campaign_id)
        domain = domain_of(campaign.from_email if campaign else None)
        if arf is not None:
            outcome = complaints.record_complaint(delivery, arf, domain)
        else:
            assert dsn is not None  # a report is a DSN when it is not a feedback report (checked above)
            outcome = bounces.record_bounce(delivery, dsn, domain)
        db.session.commit()
        log.info("Inbound report for delivery %s: %s", delivery.id, outcome.detail)
    status = "recorded" if outcome.changed else "duplicate" if outcome.kind else "ignored"
    return InboundResult(status, outcome.detail, outcome.kind, delivery.id)


def recipient_refusal(address: str) -> str | None:
    """The listener's answer to RCPT TO: None (accepted), or the refusal with a line a person can read."""
    if is_unsubscribe_address(address):
        try:
            delivery_of_unsubscribe_address(address)
        except TokenExpired:
            return (
                "550 5.7.1 This unsubscribe address has expired: please use the unsubscribe link in a "
                "recent message from us"
            )
        except TokenInvalid:
            return "550 5.1.1 No such unsubscribe address: nothing was changed"
        return None
    if accepts_recipient(address):
        return None
    return "550 5.1.1 No such mailbox: this server only takes bounces and complaints about our mail"


def _unsubscribe_addresses(msg: Message, envelope_rcpts) -> list[str]:
    """The mailto: unsubscribe addresses a message was sent to: the envelope (listener) or the headers a
    mailbox keeps of it (the bounce mailbox has no envelope)."""
    found = [address for address in envelope_rcpts if is_unsubscribe_address(address)]
    for name in ADDRESS_HEADERS:
        for _, address in getaddresses([str(v) for v in msg.get_all(name, [])]):
            if is_unsubscribe_address(address) and address not in found:
                found.append(address)
    return found


def unsubscribe_by_mail(address: str) -> InboundResult:
    """An email to a mailto: unsubscribe address (RFC 2369): the same as the one-click POST of the HTTPS link
    in the same message (subscriptions.unsubscribe), the ledger event's source naming the channel."""
    try:
        delivery_id = delivery_of_unsubscribe_address(address)
    except TokenExpired:
        return InboundResult("refused", "the unsubscribe address has expired: nothing changed")
    except TokenInvalid:
        return InboundResult("refused", "not a genuine unsubscribe address: nothing changed")
    row = db.session.execute(
        select(Contact.public_id, MailingList.public_id, Campaign.public_id)
        .select_from(Delivery)
        .join(Contact, Contact.id == Delivery.contact_id)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .outerjoin(MailingList, MailingList.id == Delivery.list_id)
        .where(Delivery.id == delivery_id)
    ).first()
    if row is None:
        return InboundResult("unmatched", "the unsubscribe address names no message we still know of")
    contact, mailing_list, campaign = row  # no list: as its HTTPS link, from everything
    outcome = unsubscribe_from((contact, mailing_list, campaign), RequestContext(MAILTO_UNSUBSCRIBE_SOURCE))
    what = "every list" if outcome.everything else f'the list "{outcome.list_name}"'
    if outcome.status == "done":
        return InboundResult("unsubscribed", f"unsubscribed from {what}", "unsubscribe", delivery_id)
    if outcome.status == "already":
        return InboundResult("already", f"already unsubscribed from {what}", "unsubscribe", delivery_id)
    return InboundResult("refused", "the contact no longer exists: nothing changed")


def process_inbound(raw: bytes, envelope_rcpts=(), source: str = "smtp") -> InboundResult:
    """Everything that arrives at our bounce domain, by the SMTP listener or the bounce mailbox (`source`, for
    the metrics): a mailto: unsubscribe, else a report (process_report); commits."""
    limit = current_app.config["BOUNCE_MAX_REPORT_BYTES"]
    if len(raw) <= limit:
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
        addresses = _unsubscribe_addresses(headers, envelope_rcpts)
        if addresses:
            result = unsubscribe_by_mail(addresses[0])
            metrics.report_processed(source, "unsubscribe", result.status)
            return result
    return process_report(raw, envelope_rcpts, source)
