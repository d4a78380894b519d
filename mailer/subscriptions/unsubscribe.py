"""Unsubscribe links (REQUIREMENTS A3-A6): what a link names, what it would do (GET), and doing it (POST) in
the request: one list through the group commit (leaving.py), everything through the withdrawal rule."""

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import joinedload

from mailer.consent.ledger import RequestContext
from mailer.consent.notices import privacy_notice_in_force
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.suppression import is_suppressed
from mailer.core.extensions import db
from mailer.core.security import TokenExpired, TokenInvalid, make_token, read_token
from mailer.subscriptions.leaving import ListJob, list_unsubscribes
from mailer.subscriptions.models.lists import MailingList, Subscription
from mailer.subscriptions.withdrawal import ACTIVE_SUBSCRIPTION, unsubscribe_everything, withdraw_list


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
    language: str | None = None  # the person's language, when the link names a known contact


def _is_opt_id(value) -> bool:
    return value is None or (isinstance(value, str) and 0 < len(value) <= 32)


def read_payload(token: str) -> tuple[str, str | None, str | None] | None:
    """(contact, list or None, campaign or None) public ids of a genuine token; an old token still counts
    (an opt-out is always honoured)."""
    try:
        payload = read_token("unsubscribe", token, max_age=current_app.config["RECIPIENT_TOKEN_MAX_AGE"])
    except TokenExpired as exc:
        payload = exc.payload
    except TokenInvalid:
        return None
    if not (
        isinstance(payload, list)
        and len(payload) == 3
        and isinstance(payload[0], str)
        and all(_is_opt_id(v) for v in payload)
    ):
        return None
    return payload[0], payload[1], payload[2]


def read_target(token: str) -> UnsubscribeTarget | None:
    """Resolve a token to its contact and list (None: the list is gone, or the token names none)."""
    payload = read_payload(token)
    return None if payload is None else resolve_target(payload)


def resolve_target(payload: tuple[str, str | None, str | None]) -> UnsubscribeTarget | None:
    """Resolve (contact, list or None, campaign or None) public ids to the contact and list."""
    # One query for the contact and the list (with its purpose); the list is outer-joined on its public id.
    row = db.session.execute(
        select(Contact, MailingList)
        .outerjoin(MailingList, MailingList.public_id == (payload[1] or ""))
        .options(joinedload(MailingList.purpose))
        .where(Contact.public_id == payload[0])
    ).first()
    if row is None or row.Contact.status == ContactStatus.ERASED:
        return None
    # A list that no longer exists: unsubscribing from everything is the only safe reading of the request.
    return UnsubscribeTarget(row.Contact, row.MailingList, payload[2])


def preferences_path(contact: Contact) -> str:
    """Relative URL of the contact's preference centre."""
    return preferences_path_for(contact.public_id)


def preferences_path_for(contact_public_id: str) -> str:
    """Relative URL of a contact's preference centre, by public id."""
    return f"/p/{make_token('preferences', contact_public_id)}"


def _outcome(target: UnsubscribeTarget, status: str, path: str | None = None) -> UnsubscribeOutcome:
    return UnsubscribeOutcome(
        status,
        target.mailing_list.name if target.mailing_list else None,
        target.mailing_list is None,
        path or preferences_path(target.contact),
        target.contact.language,
    )


def describe(token: str) -> UnsubscribeOutcome:
    """What the link would do, changing nothing (mail software prefetches GET: A5)."""
    target = read_target(token)
    if target is None:
        return UnsubscribeOutcome("invalid")
    if target.mailing_list is not None:
        sub = db.session.execute(
            select(Subscription.status).where(
                Subscription.contact_id == target.contact.id, Subscription.list_id == target.mailing_list.id
            )
        ).scalar()
        return _outcome(target, "subscribed" if sub in ACTIVE_SUBSCRIPTION else "already")
    address = target.contact.email_hash
    suppressed = address is not None and is_suppressed(address)
    return _outcome(target, "already" if suppressed else "subscribed")


def unsubscribe(token: str, ctx: RequestContext) -> UnsubscribeOutcome:
    """Act on an unsubscribe link in this one request (A3); idempotent (A6); durable before it returns.

    From one list (every link in a campaign message): a group commit with the other unsubscribes of this
    process (see ListUnsubscribes). From everything, or from a list that no longer exists: in this request.
    """
    payload = read_payload(token)
    if payload is None:
        return UnsubscribeOutcome("invalid")
    return unsubscribe_from(payload, ctx)


def unsubscribe_from(payload: tuple[str, str | None, str | None], ctx: RequestContext) -> UnsubscribeOutcome:
    """What an unsubscribe link does, for (contact, list or None, campaign or None) public ids already proved
    genuine by the caller (a signed link, a signed mailto: address); same rules, same ledger events."""
    contact_public_id, list_public_id, campaign_public_id = payload
    if list_public_id is not None:
        job = list_unsubscribes().submit(ListJob(contact_public_id, list_public_id, campaign_public_id, ctx))
        if job.status == "invalid":
            return UnsubscribeOutcome("invalid")
        if job.status != "recheck":
            status = job.status or "already"
            return UnsubscribeOutcome(status, job.list_name, False, preferences_path_for(contact_public_id))
    for attempt in range(3):
        try:
            outcome = _apply(resolve_target(payload), ctx)
            db.session.commit()
        except (
            OperationalError
        ):  # a concurrent request won a lock (SQLite snapshot, PostgreSQL deadlock): retry
            db.session.rollback()
            if attempt == 2:
                raise
            continue
        return outcome
    raise AssertionError("unreachable")


def apply_unsubscribe(token: str, ctx: RequestContext) -> UnsubscribeOutcome:
    """The changes an unsubscribe link asks for, in the current transaction; the caller commits."""
    return _apply(read_target(token), ctx)


def _apply(target: UnsubscribeTarget | None, ctx: RequestContext) -> UnsubscribeOutcome:
    if target is None:
        return UnsubscribeOutcome("invalid")
    details = {
        "list": target.mailing_list.public_id if target.mailing_list else None,
        "campaign": target.campaign_public_id,
    }
    done = _outcome(target, "done")  # before the commit expires the loaded rows
    already = _outcome(target, "already", done.preferences_path)
    # The notice in force in the person's language, as the one-list group commit records it.
    notice = privacy_notice_in_force(target.contact.language)
    if target.mailing_list is not None:
        changed = withdraw_list(target.contact, target.mailing_list, ctx, details, notice=notice)
    else:
        changed = unsubscribe_everything(target.contact, ctx, details, notice=notice)
    return done if changed else already
