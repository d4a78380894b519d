"""Storage limitation (Art. 5(1)(e)): lifetimes per data category, applied by a scheduled job, with a dry run."""

import inspect
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from mailer import audit
from mailer.consent.ledger import RequestContext
from mailer.contacts.models.contact import Contact
from mailer.core.broker import enqueue_after_commit
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery.models import Delivery
from mailer.privacy.erasure import erase_contact
from mailer.privacy.models.requests import OPEN_STATUSES, PrivacyRequest, RepermissionEmail
from mailer.privacy.settings import get_settings, retention_days
from mailer.subscriptions import expiry as signup_retention

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


def _unconfirmed(report: RetentionReport) -> None:
    days = retention_days("unconfirmed_signups")
    counts = signup_retention.purge_unconfirmed(days=days, dry_run=report.dry_run)
    report.items.append(
        RetentionItem(
            "unconfirmed_signups",
            counts["subscriptions"],
            f"sign-ups not confirmed within {days} days "
            f"({counts['anonymised']} contacts left with nothing are anonymised)",
        )
    )


def _tracking(report: RetentionReport, now: datetime) -> None:
    """Tracking events older than their lifetime: issue 4's purge when present, else by creation time."""
    days = retention_days("tracking_events")
    try:
        from mailer.tracking.events import purge_tracking_events
    except ImportError:
        purge_tracking_events = None
    if purge_tracking_events is not None:
        params = inspect.signature(purge_tracking_events).parameters
        kwargs = {"dry_run": report.dry_run, **({"days": days} if "days" in params else {})}
        result = purge_tracking_events(**kwargs)
        count = (
            result
            if isinstance(result, int)
            else sum(v for v in dict(result or {}).values() if isinstance(v, int))
        )
        report.items.append(
            RetentionItem("tracking_events", count, f"open/click records older than {days} days")
        )
        return
    table = db.metadata.tables.get("tracking_events")
    if table is None or "created_at" not in table.columns:
        report.items.append(RetentionItem("tracking_events", 0, "no tracking events are recorded"))
        return
    old = table.c.created_at < now - timedelta(days=days)
    count = db.session.execute(select(func.count()).select_from(table).where(old)).scalar_one()
    if not report.dry_run and count:
        db.session.execute(delete(table).where(old))
        db.session.commit()
    report.items.append(RetentionItem("tracking_events", count, f"open/click records older than {days} days"))


def _bounce_logs(report: RetentionReport, now: datetime) -> None:
    """Bounce and failure texts (they often quote the address) are cleared; the delivery status stays for statistics."""
    days = retention_days("bounce_logs")
    old = (
        Delivery.status.in_(("bounced", "failed")),
        Delivery.reason != "",
        func.coalesce(Delivery.finished_at, Delivery.queued_at) < now - timedelta(days=days),
    )
    count = db.session.execute(select(func.count()).select_from(Delivery).where(*old)).scalar_one()
    if not report.dry_run and count:
        db.session.execute(update(Delivery).where(*old).values(reason="", smtp_code=None))
        db.session.commit()
    try:  # the bounce and complaint log of the sending engine, when installed
        from mailer.deliverability.bounces import purge_bounce_log
    except ImportError:
        purge_bounce_log = None
    if purge_bounce_log is not None:
        count += purge_bounce_log(dry_run=report.dry_run, days=days)
    report.items.append(
        RetentionItem("bounce_logs", count, f"bounce reports and failure texts older than {days} days")
    )


def _inactive_query(now: datetime):
    """(contact id, public id, re-permission sent at) of active contacts with no interaction for the configured
    time and no open privacy request, in id order."""
    cutoff = now - timedelta(days=retention_days("inactive_contacts"))
    open_requests = select(PrivacyRequest.contact_id).where(
        PrivacyRequest.status.in_(OPEN_STATUSES), PrivacyRequest.contact_id.is_not(None)
    )
    return (
        select(Contact.id, Contact.public_id, RepermissionEmail.sent_at)
        .outerjoin(RepermissionEmail, RepermissionEmail.contact_id == Contact.id)
        .where(
            Contact.status == "active",
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
                if not report.dry_run:
                    erase_contact(
                        db.session.get(Contact, contact_id), SYSTEM, reason=f"no interaction for {days} days"
                    )
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
    _unconfirmed(report)
    _tracking(report, now)
    _bounce_logs(report, now)
    _inactive(report, now)
    if not dry_run:
        audit.record("retention.run", "retention", "", {i.category: i.count for i in report.items})
        db.session.commit()
    return report


def keep_contact(contact: Contact) -> None:
    """The contact answered the re-permission email: they count as active again; the caller commits."""
    from mailer.contacts.operations import touch

    touch(contact)
    db.session.execute(delete(RepermissionEmail).where(RepermissionEmail.contact_id == contact.id))
