"""Delivery status notifications (RFC 3464), their classes (RFC 3463, REQUIREMENTS E2) and thresholds (E3).

A report arrives through deliverability/inbound, which proves it is about a message we sent (E5) before
anything here runs. Classes: 5.x.x hard, 4.x.x soft, except 5.2.2 (mailbox full: soft) and 5.7.x (policy or
authentication: our setup was refused, so the operator is alerted and the address is never blamed). Hard
×BOUNCE_HARD_LIMIT or soft ×BOUNCE_SOFT_LIMIT within BOUNCE_SOFT_WINDOW_DAYS suppress the address.
"""

import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import Message
from email.parser import HeaderParser

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from mailer.contacts.models.contact import Contact
from mailer.contacts.models.suppression import SuppressionReason
from mailer.contacts.suppression import suppress
from mailer.core import domain_events
from mailer.core.clock import utcnow
from mailer.core.domain_events import DomainEvent
from mailer.core.extensions import db
from mailer.deliverability.models import BounceEvent, BounceKind, ProviderEventReceipt
from mailer.delivery.models import Delivery
from mailer.delivery.replies import classify_failure, status_code

log = logging.getLogger(__name__)

HARD, SOFT, POLICY, COMPLAINT = BounceKind.HARD, BounceKind.SOFT, BounceKind.POLICY, BounceKind.COMPLAINT
STATUS_PARTS = ("message/delivery-status", "message/global-delivery-status", "text/delivery-status")
_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_BASIC = re.compile(r"(?<![\d.])([45])\d\d(?![\d.])")
_ADDRESS = re.compile(r"[^\s<>\"'(),;:\[\]]+@[^\s<>\"'(),;:\[\]]+")
_BOUNCE_SENDER = re.compile(r"mailer-daemon|postmaster", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (status|failure)|returned mail|failure notice|not delivered", re.I
)


@dataclass(frozen=True)
class Outcome:
    """What a report did: its class, whether anything changed, and one line saying what."""

    kind: str
    changed: bool
    detail: str


@dataclass
class RecipientStatus:
    """One per-recipient block of a DSN."""

    final_recipient: str = ""
    action: str = ""
    status: str = ""
    diagnostic: str = ""


@dataclass
class DeliveryReport:
    """What a DSN says: who reported it and each recipient's fate."""

    reporting_mta: str = ""
    recipients: list[RecipientStatus] = field(default_factory=list)

    def failure(self) -> RecipientStatus | None:
        """The first recipient whose delivery finally failed (delayed/delivered notices are not bounces)."""
        for rec in self.recipients:
            action = rec.action.lower()
            if action == "failed" or (not action and status_code(rec.status, rec.diagnostic).startswith("5")):
                return rec
        return None


def _unfold(value) -> str:
    return " ".join(str(value or "").split())


def _after_type(value) -> str:
    """'rfc822; ann@example.net' → 'ann@example.net'; 'smtp; 550 …' → '550 …'
    (the type prefix is optional)."""
    text = _unfold(value)
    kind, sep, rest = text.partition(";")
    return rest.strip() if sep and " " not in kind.strip() else text


def _field_blocks(part: Message) -> list[Message]:
    """The header blocks of a delivery-status part, whatever the parser made of it.

    The stdlib splits message/delivery-status into blocks itself; message/global-delivery-status (RFC 6533) it
    parses as one nested message (first block as headers, the rest as its body), text/* it leaves as text.
    """
    payload = part.get_payload()
    if isinstance(payload, list) and part.get_content_type() == "message/delivery-status":
        return [p for p in payload if isinstance(p, Message)]
    if isinstance(payload, list):
        text = "".join(p.as_string() for p in payload if isinstance(p, Message))
    else:
        raw = part.get_payload(decode=True) or b""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return [
        HeaderParser().parsestr(block.strip() + "\n")
        for block in re.split(r"\r?\n\s*\r?\n", text)
        if block.strip()
    ]


def parse_dsn(msg: Message) -> DeliveryReport | None:
    """Read an RFC 3464 report (leniently: missing fields, odd types, a bounce that is only prose)."""
    for part in msg.walk():
        if part.get_content_type() in STATUS_PARTS:
            report = DeliveryReport()
            for block in _field_blocks(part):
                if block.get("Reporting-MTA"):
                    report.reporting_mta = _after_type(block["Reporting-MTA"])[:253]
                if any(
                    block.get(name) for name in ("Final-Recipient", "Original-Recipient", "Action", "Status")
                ):
                    report.recipients.append(
                        RecipientStatus(
                            final_recipient=_after_type(
                                block.get("Final-Recipient") or block.get("Original-Recipient")
                            ),
                            action=_unfold(block.get("Action")).split(" ")[0],
                            status=_unfold(block.get("Status")),
                            diagnostic=_after_type(block.get("Diagnostic-Code")),
                        )
                    )
            return report if report.recipients else None
    return _parse_prose_bounce(msg)


def payload_bytes(part: Message) -> bytes:
    """A leaf part's decoded body (b"" for a multipart or an empty part)."""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _parse_prose_bounce(msg: Message) -> DeliveryReport | None:
    """Old-style bounces without a status part: from MAILER-DAEMON (or titled so)
    and quoting a status code."""
    if not (
        _BOUNCE_SENDER.search(str(msg.get("From", ""))) or _BOUNCE_SUBJECT.search(str(msg.get("Subject", "")))
    ):
        return None
    for part in msg.walk():
        if part.get_content_type() != "text/plain":
            continue
        body = payload_bytes(part)
        for line in body.decode("utf-8", "replace").splitlines():
            if _ENHANCED.search(line) or re.match(r"\s*[45]\d\d[ -]", line):
                return DeliveryReport(recipients=[RecipientStatus(action="failed", diagnostic=_unfold(line))])
    return None


def classify(status: str, diagnostic: str = "") -> BounceKind:
    """hard, soft or policy: the one RFC 3463 rule (delivery.replies)
    that also judges refusals at send time."""
    return BounceKind(classify_failure(status, diagnostic))


def redact(text: str) -> str:
    """A diagnostic without any address in it (the log keeps no personal data beyond the contact link)."""
    return _ADDRESS.sub("[address]", _unfold(text))[:500]


def record_event(
    delivery: Delivery, kind: str, *, source: str, code: str, diagnostic: str, reporter: str, domain: str
) -> BounceEvent | None:
    """Insert one log row; None when this delivery already has a report of this kind (a resent report)."""
    event = BounceEvent(
        delivery_id=delivery.id,
        contact_id=delivery.contact_id,
        campaign_id=delivery.campaign_id,
        sending_domain=domain,
        kind=kind,
        source=source,
        status_code=code[:16],
        diagnostic=redact(diagnostic),
        reporter=redact(reporter)[:253],
    )
    try:
        with db.session.begin_nested():
            db.session.add(event)
    except IntegrityError:
        return None
    announce([(delivery.contact_id, delivery.campaign_id, kind, code)])
    return event


def announce(reports: list[tuple[int | None, int | None, str, str]]) -> None:
    """Tell integrations (outgoing webhooks) about logged reports: (contact, campaign, kind, status code)."""
    domain_events.emit(
        db.session.connection(),
        [
            DomainEvent(
                "contact.complained" if kind == BounceKind.COMPLAINT else "contact.bounced",
                contact_id,
                {"campaign_id": campaign_id, "kind": kind, "status": code[:16]},
            )
            for contact_id, campaign_id, kind, code in reports
        ],
    )


def _count(contact_id: int, kind: str, since=None) -> int:
    query = (
        select(func.count())
        .select_from(BounceEvent)
        .where(BounceEvent.contact_id == contact_id, BounceEvent.kind == kind)
    )
    if since is not None:
        query = query.where(BounceEvent.created_at >= since)
    return db.session.execute(query).scalar_one()


def delivery_fate(delivery: Delivery, status: str, reason: str) -> dict | None:
    """The columns a delivery we thought sent changes when it learns its fate, or None: queued, in-flight or
    already failed ones are left alone."""
    if delivery.status not in ("sent", "uncertain"):
        return None
    basic = _BASIC.search(reason)
    return {
        "status": status,
        "reason": reason[:300],
        "smtp_code": int(basic.group(0)) if basic else delivery.smtp_code,
        "finished_at": delivery.finished_at or utcnow(),
    }


def _mark_delivery(delivery: Delivery, status: str, reason: str) -> None:
    """A delivery we thought sent learns its fate (delivery_fate)."""
    for name, value in (delivery_fate(delivery, status, reason) or {}).items():
        setattr(delivery, name, value)


def record_bounce(delivery: Delivery, report: DeliveryReport, domain: str, source: str = "dsn") -> Outcome:
    """Log a failed delivery, update it and apply the thresholds; returns (kind,
    what was done). Caller commits. source: dsn, or the provider whose webhook reported it."""
    failure = report.failure()
    if failure is None:
        return Outcome("", False, "a delay or success notice, not a bounce: nothing to do")
    kind = classify(failure.status, failure.diagnostic)
    code = status_code(failure.status, failure.diagnostic)
    text = redact(f"{code} {failure.diagnostic}".strip())
    event = record_event(
        delivery,
        kind,
        source=source,
        code=code,
        diagnostic=failure.diagnostic,
        reporter=report.reporting_mta,
        domain=domain,
    )
    if event is None:
        return Outcome(kind, False, "this report was already recorded: nothing changed")
    if kind == POLICY:
        _mark_delivery(delivery, "failed", f"refused by policy (our sending setup, not the address): {text}")
        event.action_taken = "operator_alert"
        log.error(
            "Policy bounce for delivery %s (%s): check SPF, DKIM, DMARC and the relay's reputation",
            delivery.id,
            text,
        )
        return Outcome(kind, True, f"policy refusal {code}: operator alerted, address not suppressed")
    _mark_delivery(delivery, "bounced", f"{kind} bounce: {text}")
    contact = db.session.get(Contact, delivery.contact_id)
    config = current_app.config
    if kind == HARD:
        over = _count(delivery.contact_id, HARD) >= config["BOUNCE_HARD_LIMIT"]
        event.action_taken = "suppressed" if over else "counted"
    else:
        since = utcnow() - timedelta(days=config["BOUNCE_SOFT_WINDOW_DAYS"])
        over = _count(delivery.contact_id, SOFT, since) >= config["BOUNCE_SOFT_LIMIT"]
        event.action_taken = "suppressed_after_soft" if over else "counted"
    if over and contact is not None and contact.email_hash:
        suppress(contact.email_hash, SuppressionReason.HARD_BOUNCE)
    return Outcome(kind, True, f"{kind} bounce {code}: " + ("address suppressed" if over else "counted"))


def purge_bounce_log(dry_run: bool = False, days: int | None = None) -> int:
    """Delete log rows older than BOUNCE_LOG_RETENTION_DAYS (F6); returns how many went (or would go).
    Provider webhook receipts of that age go too (they name no one; replay protection needs far less)."""
    days = current_app.config["BOUNCE_LOG_RETENTION_DAYS"] if days is None else days
    cutoff = utcnow() - timedelta(days=days)
    old = BounceEvent.created_at < cutoff
    count = db.session.execute(select(func.count()).select_from(BounceEvent).where(old)).scalar_one()
    if not dry_run:
        if count:
            db.session.execute(delete(BounceEvent).where(old))
        db.session.execute(delete(ProviderEventReceipt).where(ProviderEventReceipt.received_at < cutoff))
        db.session.commit()
    return count
