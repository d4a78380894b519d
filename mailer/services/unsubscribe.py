"""Unsubscribing (REQUIREMENTS A3-A7, F3, H1): from one list, or from everything (which also suppresses).

Each withdrawal is one ledger event. Conditional UPDATEs make repeated or concurrent requests idempotent:
only the request that actually changes a subscription or a consent writes an event.
"""
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import joinedload

from mailer.clock import utcnow
from mailer.extensions import db
from mailer.models import ConsentState, Contact, MailingList, Purpose, Subscription
from mailer.security import TokenExpired, TokenInvalid, make_token, read_token
from mailer.services.ledger import RequestContext, record_consent
from mailer.services.suppression import is_suppressed, suppress

ACTIVE_SUBSCRIPTION = ("pending", "confirmed")
WITHDRAWABLE = ("granted", "pending")


@dataclass
class UnsubscribeTarget:
    """Who a genuine unsubscribe token names, and what from (None: everything)."""

    contact: Contact
    mailing_list: MailingList | None
    campaign_public_id: str | None


@dataclass
class UnsubscribeOutcome:
    """What a person sees: subscribed (GET, nothing changed), done, already, or invalid."""

    status: str
    list_name: str | None = None
    everything: bool = False
    preferences_path: str = ""


def _is_opt_id(value) -> bool:
    return value is None or (isinstance(value, str) and 0 < len(value) <= 32)


def read_target(token: str) -> UnsubscribeTarget | None:
    """Resolve a token; a genuine but old token still counts (an opt-out is always honoured)."""
    try:
        payload = read_token("unsubscribe", token, max_age=current_app.config["RECIPIENT_TOKEN_MAX_AGE"])
    except TokenExpired as exc:
        payload = exc.payload
    except TokenInvalid:
        return None
    if not (isinstance(payload, list) and len(payload) == 3 and isinstance(payload[0], str)
            and all(_is_opt_id(v) for v in payload)):
        return None
    # One query for the contact and the list (with its purpose); the list is outer-joined on its public id.
    row = db.session.execute(
        select(Contact, MailingList).outerjoin(MailingList, MailingList.public_id == (payload[1] or ""))
        .options(joinedload(MailingList.purpose)).where(Contact.public_id == payload[0])).first()
    if row is None or row.Contact.status == "erased":
        return None
    # A list that no longer exists: unsubscribing from everything is the only safe reading of the request.
    return UnsubscribeTarget(row.Contact, row.MailingList, payload[2])


def preferences_path(contact: Contact) -> str:
    """Relative URL of the contact's preference centre."""
    return f"/p/{make_token('preferences', contact.public_id)}"


def _outcome(target: UnsubscribeTarget, status: str, path: str | None = None) -> UnsubscribeOutcome:
    return UnsubscribeOutcome(status, target.mailing_list.name if target.mailing_list else None,
                              target.mailing_list is None, path or preferences_path(target.contact))


def describe(token: str) -> UnsubscribeOutcome:
    """What the link would do, changing nothing (mail software prefetches GET: A5)."""
    target = read_target(token)
    if target is None:
        return UnsubscribeOutcome("invalid")
    if target.mailing_list is not None:
        sub = db.session.execute(select(Subscription.status).where(
            Subscription.contact_id == target.contact.id, Subscription.list_id == target.mailing_list.id)).scalar()
        return _outcome(target, "subscribed" if sub in ACTIVE_SUBSCRIPTION else "already")
    suppressed = bool(target.contact.email_hash) and is_suppressed(target.contact.email_hash)
    return _outcome(target, "already" if suppressed else "subscribed")


def unsubscribe(token: str, ctx: RequestContext) -> UnsubscribeOutcome:
    """Act on an unsubscribe link in this one request (A3); idempotent (A6)."""
    for attempt in range(3):
        try:
            outcome = apply_unsubscribe(token, ctx)
            db.session.commit()
        except OperationalError:  # a concurrent request won a lock (SQLite snapshot, PostgreSQL deadlock): retry
            db.session.rollback()
            if attempt == 2:
                raise
            continue
        return outcome
    raise AssertionError("unreachable")


def apply_unsubscribe(token: str, ctx: RequestContext) -> UnsubscribeOutcome:
    """The changes an unsubscribe link asks for, in the current transaction; the caller commits."""
    target = read_target(token)
    if target is None:
        return UnsubscribeOutcome("invalid")
    details = {"list": target.mailing_list.public_id if target.mailing_list else None,
               "campaign": target.campaign_public_id}
    done = _outcome(target, "done")  # before the commit expires the loaded rows
    already = _outcome(target, "already", done.preferences_path)
    if target.mailing_list is not None:
        changed = withdraw_list(target.contact, target.mailing_list, ctx, details)
    else:
        changed = unsubscribe_everything(target.contact, ctx, details)
    return done if changed else already


def _end_subscription(contact_id: int, list_id: int) -> bool:
    """Mark a subscription unsubscribed unless it already is; True when this call changed it."""
    result = db.session.execute(update(Subscription).where(
        Subscription.contact_id == contact_id, Subscription.list_id == list_id,
        Subscription.status != "unsubscribed").values(status="unsubscribed", unsubscribed_at=utcnow()),
        execution_options={"synchronize_session": False})
    return bool(result.rowcount)


def withdraw_purpose(contact: Contact, purpose: Purpose, ctx: RequestContext, details: dict,
                     force: bool = False) -> bool:
    """One "withdrawn" ledger event when consent is granted or pending (or a subscription was just ended).

    The state row is read FOR UPDATE, so of two concurrent requests only the first writes an event (SQLite
    serialises on the subscription UPDATE that precedes this); the ledger then updates the same loaded row.
    """
    state = db.session.execute(select(ConsentState).where(
        ConsentState.contact_id == contact.id, ConsentState.purpose_id == purpose.id).with_for_update()
    ).scalar_one_or_none()
    status = state.status if state is not None else None
    claimed = status in WITHDRAWABLE or (force and status not in ("withdrawn", "objected"))
    if claimed:
        record_consent(contact, purpose, "withdrawn", ctx, details=details)
    return claimed


def _suppress_once(address_hash: str) -> bool:
    """Add the suppression unless it exists; a concurrent request adding it first is not an error."""
    if is_suppressed(address_hash):
        return False
    try:
        with db.session.begin_nested():
            suppress(address_hash, "unsubscribed")
    except IntegrityError:
        return False
    return True


def withdraw_list(contact: Contact, mailing_list: MailingList, ctx: RequestContext, details: dict) -> bool:
    """Unsubscribe from one list and withdraw its consent (A7); the caller commits. True when anything changed."""
    ended = _end_subscription(contact.id, mailing_list.id)
    purpose = mailing_list.purpose
    withdrawn = purpose is not None and withdraw_purpose(contact, purpose, ctx, details, force=ended)
    return ended or withdrawn


def unsubscribe_everything(contact: Contact, ctx: RequestContext, details: dict) -> bool:
    """End every subscription, withdraw every consent and suppress the address; the caller commits.

    The suppression means the address comes back only through a fresh double opt-in (REQUIREMENTS J4).
    """
    details = {**details, "scope": "everything"}
    list_ids = db.session.execute(select(Subscription.list_id).where(
        Subscription.contact_id == contact.id, Subscription.status != "unsubscribed").order_by(
        Subscription.list_id)).scalars().all()  # one lock order for every request: no deadlock between retries
    ended_lists = {list_id for list_id in list_ids if _end_subscription(contact.id, list_id)}
    changed = _suppress_once(contact.email_hash) if contact.email_hash else False
    purposes = db.session.execute(select(Purpose).join(ConsentState, ConsentState.purpose_id == Purpose.id).where(
        ConsentState.contact_id == contact.id, ConsentState.status.in_(WITHDRAWABLE)).order_by(Purpose.id)).scalars().all()
    for purpose in purposes:
        changed |= withdraw_purpose(contact, purpose, ctx, details)
    for list_id in ended_lists:
        purpose = db.session.execute(select(Purpose).where(Purpose.list_id == list_id)).scalar_one_or_none()
        if purpose is not None and purpose not in purposes:
            withdraw_purpose(contact, purpose, ctx, details, force=True)
    return changed or bool(ended_lists)
