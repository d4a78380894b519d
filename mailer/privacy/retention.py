"""Storage limitation (Art. 5(1)(e)): lifetimes per data category, applied by a scheduled job or dry run."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from mailer import audit
from mailer.consent.ledger import RequestContext
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.operations import touch
from mailer.core.broker import enqueue_after_commit
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.privacy.erasure import erase_contact
from mailer.privacy.hooks import current_hooks
from mailer.privacy.models.requests import OPEN_STATUSES, PrivacyRequest, RepermissionEmail
from mailer.privacy.settings import get_settings, retention_days
from mailer.staff.idempotency import purge_expired as purge_idempotency_keys

SYSTEM = RequestContext("system:retention")
EXAMPLES = 20


@dataclass
class RetentionItem:
    """One category: how many records go (or went), why, and a few of them by public id."""

    category: str
    count: int
    reason: str
    examples: list[str] = field(default_factory=list)


@dataclass
class RetentionReport:
    dry_run: bool
    ran_at: datetime
    items: list[RetentionItem] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(item.count for item in self.items)


# What each category's records are, in the report; {days} is the category's lifetime.
REASONS = {
    "unconfirmed_signups": "sign-ups not confirmed within {days} days",
    "tracking_events": "open/click records older than {days} days",
    "bounce_logs": "bounce reports and failure texts older than {days} days",
    "import_files": "imports finished (or left unmapped) more than {days} days ago: their files",
    "transactional_messages": "transactional messages older than {days} days: their recipient's address",
}


def _apply_hooks(report: RetentionReport) -> None:
    """Every domain's retention hooks, category by category, each with its configured lifetime."""
    for category, hooks in current_hooks().retention.items():
        days = retention_days(category)
        outcomes = [hook(days, report.dry_run) for hook in hooks]
        reason = REASONS.get(category, "{category} older than {days} days").format(
            category=category, days=days
        )
        details = "; ".join(o.detail for o in outcomes if o.detail)
        report.items.append(
            RetentionItem(
                category, sum(o.count for o in outcomes), f"{reason} ({details})" if details else reason
            )
        )


def _expire_idempotency_keys(report: RetentionReport) -> None:
    """API Idempotency-Keys and the answers stored with them live a fixed time (API_IDEMPOTENCY_HOURS)."""
    hours = current_app.config["API_IDEMPOTENCY_HOURS"]
    report.items.append(
        RetentionItem(
            "api_idempotency_keys",
            purge_idempotency_keys(dry_run=report.dry_run),
            f"API Idempotency-Keys and their stored answers older than {hours} hours",
        )
    )


def _inactive_query(now: datetime):
    """(contact id, public id, re-permission sent at) of active contacts without interaction for the
    configured time and without an open privacy request, in id order."""
    cutoff = now - timedelta(days=retention_days("inactive_contacts"))
    open_requests = select(PrivacyRequest.contact_id).where(
        PrivacyRequest.status.in_(OPEN_STATUSES), PrivacyRequest.contact_id.is_not(None)
    )
    return (
        select(Contact.id, Contact.public_id, RepermissionEmail.sent_at)
        .outerjoin(RepermissionEmail, RepermissionEmail.contact_id == Contact.id)
        .where(
            Contact.status == ContactStatus.ACTIVE,
            func.coalesce(Contact.last_activity_at, Contact.created_at) < cutoff,
            Contact.id.not_in(open_requests),
        )
        .order_by(Contact.id)
    )


def _inactive(report: RetentionReport, now: datetime, page_size: int = 500) -> None:
    """Ask inactive contacts once (if enabled); erase those who did not answer within the grace period.

    Pages by contact id and commits each page, so any number of contacts runs in flat memory."""
    settings = get_settings()
    days = retention_days("inactive_contacts")
    grace = timedelta(days=settings.repermission_grace_days)
    erase_item = RetentionItem(
        "inactive_contacts",
        0,
        f"no interaction for {days} days"
        + (
            f" and no answer to the re-permission email within {grace.days} days"
            if settings.repermission_enabled
            else ""
        ),
    )
    ask_item = RetentionItem(
        "repermission_emails", 0, f"inactive for {days} days: asked whether to keep them"
    )
    last_id = 0
    while True:
        rows = db.session.execute(_inactive_query(now).where(Contact.id > last_id).limit(page_size)).all()
        if not rows:
            break
        last_id = rows[-1][0]
        for contact_id, public_id, asked_at in rows:
            if not settings.repermission_enabled or (asked_at is not None and asked_at < now - grace):
                item = erase_item
                contact = None if report.dry_run else db.session.get(Contact, contact_id)
                if contact is not None:
                    erase_contact(contact, SYSTEM, reason=f"no interaction for {days} days")
            elif asked_at is None:
                item = ask_item
                if not report.dry_run:
                    enqueue_after_commit(db.session, "send_repermission_email", contact_id)
            else:
                continue  # asked, still within the grace period
            item.count += 1
            if len(item.examples) < EXAMPLES:
                item.examples.append(public_id)
        if not report.dry_run:
            db.session.commit()
    report.items.append(erase_item)
    if settings.repermission_enabled:
        report.items.append(ask_item)


def _forget_answered_repermissions() -> None:
    """A contact who interacted after being asked is active again; a later inactivity asks afresh."""
    answered = (
        select(RepermissionEmail.contact_id)
        .join(Contact, Contact.id == RepermissionEmail.contact_id)
        .where(Contact.last_activity_at > RepermissionEmail.sent_at)
    )
    db.session.execute(delete(RepermissionEmail).where(RepermissionEmail.contact_id.in_(answered)))


def run_retention(dry_run: bool = False, now: datetime | None = None) -> RetentionReport:
    """Apply every lifetime (or, with dry_run, only report what would go and why)."""
    now = now or utcnow()
    report = RetentionReport(dry_run=dry_run, ran_at=now)
    if not dry_run:
        _forget_answered_repermissions()
    _apply_hooks(report)
    _expire_idempotency_keys(report)
    _inactive(report, now)
    if not dry_run:
        audit.record("retention.run", "retention", "", {i.category: i.count for i in report.items})
        db.session.commit()
    return report


def keep_contact(contact: Contact) -> None:
    """The contact answered the re-permission email: they count as active again; the caller commits."""
    touch(contact)
    db.session.execute(delete(RepermissionEmail).where(RepermissionEmail.contact_id == contact.id))
