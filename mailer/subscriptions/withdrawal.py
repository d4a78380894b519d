"""Withdrawing consent, the one rule (REQUIREMENTS A7, F3, H1): leave a list, withdraw a purpose, or leave
everything (which also suppresses the address).

Each withdrawal is one ledger event. Conditional UPDATEs make repeated or concurrent requests idempotent: only
the request that actually changes a subscription or a consent writes an event. The group commit of one-click
unsubscribes (leaving.py) and PostgreSQL's leave_lists function (sql/) apply this same rule.
"""

from typing import cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError

from mailer.consent.ledger import RequestContext, record_consent
from mailer.consent.models import ConsentState, Notice, Purpose
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.suppression import SuppressionReason
from mailer.contacts.suppression import is_suppressed, suppress
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.subscriptions.models.lists import MailingList, Subscription, SubscriptionStatus

ACTIVE_SUBSCRIPTION = (SubscriptionStatus.PENDING, SubscriptionStatus.CONFIRMED)
WITHDRAWABLE = ("granted", "pending")


def withdraws(status: str | None, ended: bool) -> bool:
    """Whether a consent in `status` gets a "withdrawn" event: granted or pending, or any consent not already
    withdrawn or objected to when the subscription was just ended (one rule for the request and the group)."""
    return status in WITHDRAWABLE or (ended and status not in ("withdrawn", "objected"))


def _end_subscription(contact_id: int, list_id: int) -> bool:
    """Mark a subscription unsubscribed unless it already is; True when this call changed it."""
    result = db.session.execute(
        update(Subscription)
        .where(
            Subscription.contact_id == contact_id,
            Subscription.list_id == list_id,
            Subscription.status != SubscriptionStatus.UNSUBSCRIBED,
        )
        .values(status=SubscriptionStatus.UNSUBSCRIBED, unsubscribed_at=utcnow()),
        execution_options={"synchronize_session": False},
    )
    return bool(cast(CursorResult, result).rowcount)


def withdraw_purpose(
    contact: Contact,
    purpose: Purpose,
    ctx: RequestContext,
    details: dict,
    force: bool = False,
    notice: Notice | None = None,
) -> bool:
    """One "withdrawn" ledger event when consent is granted or pending (or a subscription was just ended).

    The state row is read FOR UPDATE, so of two concurrent requests only the first writes an event (SQLite
    serialises on the subscription UPDATE that precedes this); the ledger then updates the same loaded row.
    """
    state = db.session.execute(
        select(ConsentState)
        .where(ConsentState.contact_id == contact.id, ConsentState.purpose_id == purpose.id)
        .with_for_update()
    ).scalar_one_or_none()
    status = state.status if state is not None else None
    claimed = withdraws(status, force)
    if claimed:
        record_consent(contact, purpose, "withdrawn", ctx, notice=notice, details=details)
    return claimed


def _suppress_once(address_hash: str) -> bool:
    """Add the suppression unless it exists; a concurrent request adding it first is not an error."""
    if is_suppressed(address_hash):
        return False
    try:
        with db.session.begin_nested():
            suppress(address_hash, SuppressionReason.UNSUBSCRIBED)
    except IntegrityError:
        return False
    return True


def withdraw_list(
    contact: Contact,
    mailing_list: MailingList,
    ctx: RequestContext,
    details: dict,
    notice: Notice | None = None,
) -> bool:
    """Unsubscribe from one list and withdraw its consent (A7); the caller commits. True when anything
    changed."""
    ended = _end_subscription(contact.id, mailing_list.id)
    purpose = mailing_list.purpose
    withdrawn = purpose is not None and withdraw_purpose(
        contact, purpose, ctx, details, force=ended, notice=notice
    )
    return ended or withdrawn


def unsubscribe_everything(
    contact: Contact, ctx: RequestContext, details: dict, notice: Notice | None = None
) -> bool:
    """End every subscription, withdraw every consent and suppress the address; the caller commits.

    The suppression means the address comes back only through a fresh double opt-in (REQUIREMENTS J4).
    """
    details = {**details, "scope": "everything"}
    list_ids = (
        db.session.execute(
            select(Subscription.list_id)
            .where(
                Subscription.contact_id == contact.id, Subscription.status != SubscriptionStatus.UNSUBSCRIBED
            )
            .order_by(Subscription.list_id)
        )
        .scalars()
        .all()
    )  # one lock order for every request: no deadlock between retries
    ended_lists = {list_id for list_id in list_ids if _end_subscription(contact.id, list_id)}
    changed = _suppress_once(contact.email_hash) if contact.email_hash else False
    purposes = (
        db.session.execute(
            select(Purpose)
            .join(ConsentState, ConsentState.purpose_id == Purpose.id)
            .where(ConsentState.contact_id == contact.id, ConsentState.status.in_(WITHDRAWABLE))
            .order_by(Purpose.id)
        )
        .scalars()
        .all()
    )
    for purpose in purposes:
        changed |= withdraw_purpose(contact, purpose, ctx, details, notice=notice)
    for list_id in ended_lists:
        ended_purpose = db.session.execute(
            select(Purpose).where(Purpose.list_id == list_id)
        ).scalar_one_or_none()
        if ended_purpose is not None and ended_purpose not in purposes:
            withdraw_purpose(contact, ended_purpose, ctx, details, force=True, notice=notice)
    return changed or bool(ended_lists)
