"""Spam complaints from mailbox providers' feedback loops (RFC 5965 ARF; REQUIREMENTS E4, B4).

Any complaint suppresses the address at once and is recorded in the consent ledger as a withdrawal of the
list the message was sent for (a complaint is a withdrawal). Reports are read leniently: any Version, a
missing Feedback-Type counts as "abuse", a feedback part mislabelled text/plain is still read. "not-spam"
reports change nothing; "auth-failure" reports (RFC 6591) are about our authentication, so they alert the
operator like a 5.7.x bounce instead of blaming the recipient.
"""

import logging
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from email.utils import parseaddr

from mailer.campaigns.models import Campaign
from mailer.consent.ledger import RequestContext
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.models.suppression import SuppressionReason
from mailer.contacts.suppression import suppress
from mailer.core.extensions import db
from mailer.deliverability import domains as deliverability
from mailer.deliverability.bounces import COMPLAINT, POLICY, Outcome, payload_bytes, record_event
from mailer.delivery.models import Delivery
from mailer.subscriptions.models.lists import MailingList
from mailer.subscriptions.withdrawal import withdraw_list

log = logging.getLogger(__name__)
SOURCE = RequestContext("system:complaint")


@dataclass
class FeedbackReport:
    """The machine-readable part of an ARF report."""

    feedback_type: str = "abuse"
    version: str = ""
    user_agent: str = ""
    reporter: str = ""
    original_mail_from: str = ""
    original_rcpt_to: str = ""
    auth_failure: str = ""


def _fields(part: Message) -> Message:
    """The feedback fields as headers, whether the parser nested them as a message or left them as text."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    text = part.get_payload(decode=True) or b""
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return HeaderParser().parsestr(text.lstrip())


def _feedback_part(msg: Message) -> Message | None:
    for part in msg.walk():
        if part.get_content_type() == "message/feedback-report":
            return part
    if msg.get_content_type() == "multipart/report" and "feedback-report" in str(
        msg.get_param("report-type", "")
    ):
        for part in msg.walk():  # some loops label the feedback part text/plain
            if part.get_content_type() == "text/plain" and re.search(
                r"^Feedback-Type:", str(payload_bytes(part), "utf-8", "replace"), re.M | re.I
            ):
                return part
    return None


def parse_arf(msg: Message) -> FeedbackReport | None:
    """An ARF report's fields, or None when the message is not a feedback report."""
    part = _feedback_part(msg)
    if part is None:
        return None
    fields = _fields(part)

    def value(name: str) -> str:
        return " ".join(str(fields.get(name) or "").split())

    sender = parseaddr(str(msg.get("From", "")))[1]
    reporter = (
        value("Reporting-MTA").partition(";")[2].strip() or sender.rpartition("@")[2] or value("User-Agent")
    )
    return FeedbackReport(
        feedback_type=(value("Feedback-Type") or "abuse").lower(),
        version=value("Version"),
        user_agent=value("User-Agent"),
        reporter=reporter,
        original_mail_from=value("Original-Mail-From").strip("<>"),
        original_rcpt_to=value("Original-Rcpt-To").strip("<>"),
        auth_failure=value("Auth-Failure"),
    )


def record_complaint(delivery: Delivery, report: FeedbackReport, domain: str, source: str = "arf") -> Outcome:
    """Suppress, withdraw consent for the list and check the domain's complaint rate; the caller commits.
    source: arf, or the provider whose webhook reported it."""
    kind = report.feedback_type
    if kind == "not-spam":
        return Outcome("", False, "a not-spam report: nothing to do")
    if kind == "auth-failure":
        event = record_event(
            delivery,
            POLICY,
            source=source,
            code=kind,
            diagnostic=f"authentication failure report: {report.auth_failure or 'unspecified'}",
            reporter=report.reporter,
            domain=domain,
        )
        if event is None:
            return Outcome(POLICY, False, "this report was already recorded: nothing changed")
        event.action_taken = "operator_alert"
        log.error("Authentication failure report about delivery %s: check SPF, DKIM and DMARC", delivery.id)
        return Outcome(
            POLICY, True, "authentication failure report: operator alerted, address not suppressed"
        )
    event = record_event(
        delivery,
        COMPLAINT,
        source=source,
        code=kind,
        diagnostic=f"{kind} report",
        reporter=report.reporter,
        domain=domain,
    )
    if event is None:
        return Outcome(COMPLAINT, False, "this complaint was already recorded: nothing changed")
    event.action_taken = "suppressed"
    contact = db.session.get(Contact, delivery.contact_id)
    if contact is not None and contact.email_hash:
        suppress(contact.email_hash, SuppressionReason.COMPLAINT)
    mailing_list = db.session.get(MailingList, delivery.list_id) if delivery.list_id else None
    if contact is not None and contact.status != ContactStatus.ERASED and mailing_list is not None:
        campaign = db.session.get(Campaign, delivery.campaign_id)
        withdraw_list(
            contact,
            mailing_list,
            SOURCE,
            {
                "list": mailing_list.public_id,
                "campaign": campaign.public_id if campaign else None,
                "reason": "complaint",
                "feedback_type": kind,
            },
        )
    db.session.flush()
    paused = deliverability.enforce_rate_limits(domain)
    note = f"; complaint rate too high, paused {len(paused)} campaign(s)" if paused else ""
    return Outcome(
        COMPLAINT, True, f"{kind} complaint: address suppressed, consent for the list withdrawn{note}"
    )
