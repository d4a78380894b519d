"""Transactional messages: accept one (refusals, idempotency), send it from a worker, forget the person.

Accepting never sends: it stores the message (address, merge data, request hash) and queues its id after
commit; the worker claims it with one UPDATE (queued → sending) so a redelivered job sends nothing twice,
checks the recipient again, renders, and sends through the one exit (DKIM, the template's relay or the
default relay, the outbox in embedded mode). An Idempotency-Key is unique per API key: a repeat with the same
body gets the first message back, a different body is refused, and concurrent first tries meet at the index.
"""

import hashlib
import json
import logging
import smtplib
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import format_number, gettext
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from mailer import audit
from mailer.campaigns.rendering import Rendered
from mailer.contacts.fields import merge_values
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.operations import (
    AddressError,
    clean_name,
    email_hash,
    find_contact_by_email,
    normalise_email,
)
from mailer.contacts.personal_data import ErasedContact
from mailer.contacts.suppression import is_suppressed
from mailer.core.broker import enqueue_after_commit
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.text import TextRefused
from mailer.delivery.failover import relay_route
from mailer.delivery.outgoing import MessageKind, Outgoing, compose, default_sender, hand_over
from mailer.delivery.ratelimit import send_rate
from mailer.transactional.models import FINAL_TX_STATUSES, TxMessage, TxStatus, TxTemplate
from mailer.transactional.rendering import TemplateRenderError, render_message
from mailer.transactional.templates import by_key

log = logging.getLogger(__name__)
SEND_ACTOR = "send_transactional"
MAX_ATTEMPTS = 9  # the actor's first try and its 8 retries
MAX_KEY_LENGTH = 255
MAX_DATA_DEPTH = 10


class TxRefused(Exception):
    """A message that will not be sent: `status` (4xx), a sentence for the integrator, a reason code.

    The sentence is in the request's language: English for the API (core/i18n.py) and the worker, the staff
    member's on an admin page (a test send)."""

    def __init__(self, status: int, message: str, reason: str):
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason


@dataclass
class Accepted:
    """The queued message, and whether this answer repeats an earlier request with the same key."""

    message: TxMessage
    replayed: bool


def request_hash(payload: dict) -> str:
    """The fingerprint an Idempotency-Key is stored with: the parsed body in canonical JSON."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def refusal_of(contact: Contact | None, address: str) -> TxRefused | None:
    """Why this recipient must not get transactional mail (restricted, erased, suppressed), or None."""
    if contact is not None and contact.status == ContactStatus.ERASED:
        return TxRefused(422, gettext("The contact was erased; nothing can be sent to them."), "erased")
    if contact is not None and contact.status == ContactStatus.RESTRICTED:
        return TxRefused(
            422,
            gettext("The contact's processing is restricted (Art. 18 GDPR); nothing can be sent to them."),
            "restricted",
        )
    if address and is_suppressed(email_hash(address)):
        return TxRefused(
            422,
            gettext(
                "The address is on the suppression list (unsubscribed from everything, erased, bounced or "
                "complained); nothing can be sent to it."
            ),
            "suppressed",
        )
    return None


def _depth(value, level: int = 0) -> int:
    if level > MAX_DATA_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def check_data(data) -> dict:
    """Merge data as a message may carry it: a JSON object within TX_MAX_DATA_BYTES and MAX_DATA_DEPTH."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TxRefused(422, gettext("The merge data must be a JSON object."), "bad_data")
    size = len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
    limit = current_app.config["TX_MAX_DATA_BYTES"]
    if size > limit:
        raise TxRefused(
            413,
            gettext(
                "The merge data is %(size)s bytes; at most %(limit)s are accepted.",
                size=format_number(size),
                limit=format_number(limit),
            ),
            "data_too_large",
        )
    if _depth(data) > MAX_DATA_DEPTH:
        raise TxRefused(
            422,
            gettext("The merge data is nested more than %(depth)s levels deep.", depth=MAX_DATA_DEPTH),
            "bad_data",
        )
    return data


def _recipient(contact_public_id: str | None, address: str | None, name: str | None):
    """(contact or None, normalised address, name) for a request naming a contact or an address."""
    if bool(contact_public_id) == bool(address):
        raise TxRefused(
            422, "Name the recipient: give either contact_id or email (one of them).", "recipient"
        )
    if contact_public_id:
        contact = db.session.execute(
            select(Contact).where(Contact.public_id == contact_public_id[:32])
        ).scalar_one_or_none()
        if contact is None:
            raise TxRefused(404, "There is no contact with that contact_id.", "unknown_contact")
        refusal = refusal_of(contact, "")
        if refusal is not None:
            raise refusal
        if not contact.email:
            raise TxRefused(422, "The contact has no email address.", "no_address")
        return contact, contact.email, name if name is not None else contact.name
    try:
        normalised = normalise_email(address or "")
    except AddressError as exc:
        raise TxRefused(422, f"email: {exc}", "bad_address") from None
    return find_contact_by_email(normalised), normalised, name


def _scope(api_key_id: int | None) -> str:
    """Whose Idempotency-Keys these are (kept when the API key is deleted, so its keys stay taken)."""
    return f"api-key:{api_key_id}" if api_key_id is not None else "no-key"


def _existing(api_key_id: int | None, key: str) -> TxMessage | None:
    query = select(TxMessage).where(
        TxMessage.idempotency_scope == _scope(api_key_id), TxMessage.idempotency_key == key
    )
    return db.session.execute(query).scalar_one_or_none()


def _replay(existing: TxMessage, fingerprint: str) -> Accepted:
    if existing.request_hash != fingerprint:
        raise TxRefused(
            422,
            "This Idempotency-Key was already used for a different request; use a new key for a new message.",
            "idempotency_key_reused",
        )
    return Accepted(existing, replayed=True)


def accept(
    payload: dict,
    *,
    template_key: str,
    contact_id: str | None = None,
    email: str | None = None,
    name: str | None = None,
    data: dict | None = None,
    api_key_id: int | None = None,
    idempotency_key: str | None = None,
) -> Accepted:
    """Store one message and queue it after commit (raises TxRefused, nothing stored). Commits."""
    fingerprint = request_hash(payload)
    if idempotency_key is not None:
        if not idempotency_key or len(idempotency_key) > MAX_KEY_LENGTH or not idempotency_key.isprintable():
            raise TxRefused(
                400, f"The Idempotency-Key header must be 1–{MAX_KEY_LENGTH} printable characters.", "bad_key"
            )
        existing = _existing(api_key_id, idempotency_key)
        if existing is not None:
            return _replay(existing, fingerprint)
    template = by_key(template_key)
    if template is None:
        raise TxRefused(
            404, f"There is no transactional template with the key “{template_key[:64]}”.", "template"
        )
    if template.archived_at is not None:
        raise TxRefused(
            409, "That transactional template is archived; restore it on its page first.", "archived"
        )
    try:
        name = clean_name(name) if name is not None else None
    except TextRefused as exc:
        raise TxRefused(422, f"name: {exc}", "bad_name") from None
    contact, address, name = _recipient(contact_id, email, name)
    refusal = refusal_of(contact, address)
    if refusal is not None:
        raise refusal
    data = check_data(data)
    _rendered(template, contact, address, name, data)  # a template that can't render this data: refused now
    message = TxMessage(
        template_id=template.id,
        contact_id=contact.id if contact else None,
        email=address,
        email_hash=email_hash(address),
        name=name or "",
        data=data,
        api_key_id=api_key_id,
        idempotency_scope=_scope(api_key_id) if idempotency_key is not None else None,
        idempotency_key=idempotency_key,
        request_hash=fingerprint,
    )
    try:
        with db.session.begin_nested():
            db.session.add(message)
    except IntegrityError:
        # A concurrent request with the same key committed first (PostgreSQL waited for it): answer with it.
        existing = _existing(api_key_id, idempotency_key or "")
        if existing is None:
            raise
        accepted = _replay(existing, fingerprint)
        db.session.commit()
        return accepted
    enqueue_after_commit(db.session, SEND_ACTOR, message.id)
    db.session.commit()
    return Accepted(message, replayed=False)


def queue_test(
    template: TxTemplate, address: str, data: dict, actor=None, via: dict | None = None
) -> TxMessage:
    """A staff member's test of a template to one address (marked [TEST], refused like any other). Commits."""
    try:
        normalised = normalise_email(address)
    except AddressError as exc:
        raise TxRefused(400, str(exc), "bad_address") from None
    contact = find_contact_by_email(normalised)
    refusal = refusal_of(contact, normalised)
    if refusal is not None:
        raise refusal
    data = check_data(data)
    _rendered(template, contact, normalised, None, data)
    message = TxMessage(
        template_id=template.id,
        contact_id=contact.id if contact else None,
        email=normalised,
        email_hash=email_hash(normalised),
        data=data,
        test=True,
    )
    db.session.add(message)
    db.session.flush()
    details = {"message": message.public_id, **(via or {})}
    audit.record("tx_template.test", "tx_template", template.public_id, details, actor)
    enqueue_after_commit(db.session, SEND_ACTOR, message.id)
    db.session.commit()
    return message


def _rendered(
    template: TxTemplate, contact: Contact | None, address: str, name: str | None, data
) -> Rendered:
    fields = merge_values([contact.id]).get(contact.id, {}) if contact is not None else None
    try:
        return render_message(
            template,
            data,
            email=address,
            name=name or None,
            attributes=contact.attributes if contact is not None else None,
            fields=fields,
        )
    except TemplateRenderError as exc:
        raise TxRefused(
            422,
            gettext("The template can't be rendered with this data: %(problem)s", problem=str(exc)),
            "render",
        ) from None


# --- sending (the worker) ---------------------------------------------------------------------------------


def _claim(message_id: int) -> bool:
    """queued → sending in one UPDATE: only one worker ever gets a message, however often the job runs."""
    claimed = db.session.execute(
        update(TxMessage)
        .where(TxMessage.id == message_id, TxMessage.status == TxStatus.QUEUED)
        .values(status=TxStatus.SENDING, claimed_at=utcnow(), attempts=TxMessage.attempts + 1)
    )
    db.session.commit()
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


def _finish(message: TxMessage, status: TxStatus, reason: str = "", code: int | None = None) -> None:
    message.status = status
    message.reason = reason[:300]
    message.smtp_code = code
    message.finished_at = utcnow()
    message.data = None  # merge data is kept only until the message is final (it often holds one-time links)
    db.session.commit()


def send_message(message_id: int) -> None:
    """Claim, re-check, render, compose and send one queued message (the actor's work). A temporary failure
    puts it back in the queue and raises, so the actor retries with backoff."""
    if not _claim(message_id):
        return
    message = db.session.get(TxMessage, message_id)
    if message is None:
        return
    template = message.template
    contact = db.session.get(Contact, message.contact_id) if message.contact_id else None
    refusal = refusal_of(contact, message.email) if message.email else TxRefused(422, "erased", "erased")
    if refusal is not None:  # restricted, erased or suppressed since it was accepted
        _finish(message, TxStatus.REFUSED, refusal.reason)
        return
    try:
        rendered = _rendered(template, contact, message.email, message.name, message.data or {})
    except TxRefused as exc:
        _finish(message, TxStatus.FAILED, exc.message)
        return
    subject = f"[TEST] {rendered.subject}" if message.test else rendered.subject
    composed = compose(
        Outgoing(
            kind=MessageKind.TRANSACTIONAL,
            sender=default_sender(),
            to_addr=message.email,
            to_name=message.name or None,
            subject=subject,
            html=rendered.html,
            text=rendered.text,
            reply_to=template.reply_to,
        )
    )
    route = relay_route(template.relay_id)
    if route is None:  # a route paces by the relay in use (its own rate within the global one)
        send_rate().acquire(1)  # the global bucket campaigns draw from: the relay's limit is for all mail
    try:
        reply = hand_over(
            default_sender().addr_spec,
            message.email,
            composed.raw,
            kind=MessageKind.TRANSACTIONAL,
            subject=subject,
            message_id=composed.message_id,
            route=route,
        )
    except (smtplib.SMTPException, OSError) as exc:
        code, reason = _failure(exc)
        if (code or 0) >= 500 or message.attempts >= MAX_ATTEMPTS:
            _finish(message, TxStatus.FAILED, reason, code)
            return
        _release(message, reason, code)
        raise
    message.message_id = composed.message_id
    _finish(message, TxStatus.SENT, reply.text[:300] if reply.code != 250 else "", reply.code)


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _failure(exc: Exception) -> tuple[int | None, str]:
    """The relay's code and words for a failed send (None: it could not be reached)."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code, f"{exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        code, text = next(iter(exc.recipients.values()))
        return code, f"{code} {_text(text)}"
    return None, f"The relay could not be reached: {type(exc).__name__}"


def _release(message: TxMessage, reason: str, code: int | None) -> None:
    """A temporary failure: back to the queue for the actor's retry (merge data kept)."""
    message.status = TxStatus.QUEUED
    message.reason = reason[:300]
    message.smtp_code = code
    db.session.commit()


def mark_stuck_uncertain(minutes: int = 15) -> int:
    """Messages claimed long ago and never finished (their worker died mid-send) become uncertain: they may
    have left, so they are never sent again silently. Commits; returns how many."""
    stuck = db.session.execute(
        update(TxMessage)
        .where(
            TxMessage.status == TxStatus.SENDING, TxMessage.claimed_at < utcnow() - timedelta(minutes=minutes)
        )
        .values(status=TxStatus.UNCERTAIN, finished_at=utcnow(), data=None)
    )
    db.session.commit()
    return int(stuck.rowcount)  # type: ignore[attr-defined]


# --- privacy ----------------------------------------------------------------------------------------------


def forget_person(erased: ErasedContact) -> None:
    """Erasure: messages to the person lose address, name and merge data; unsent ones are refused."""
    matches = [TxMessage.contact_id == erased.contact.id]
    if erased.email:
        matches.append(TxMessage.email_hash == email_hash(erased.email.lower()))
    who = or_(*matches)
    db.session.execute(
        update(TxMessage)
        .where(who, TxMessage.status.in_((TxStatus.QUEUED, TxStatus.SENDING)))
        .values(status=TxStatus.REFUSED, reason="erased", finished_at=utcnow())
    )
    db.session.execute(update(TxMessage).where(who).values(email="", email_hash="", name="", data=None))


def forget_old_addresses(days: int, dry_run: bool = False) -> int:
    """Retention: final messages older than `days` lose their address and name (the log keeps the status)."""
    old = (
        TxMessage.status.in_(FINAL_TX_STATUSES),
        TxMessage.email != "",
        TxMessage.created_at < utcnow() - timedelta(days=days),
    )
    count = db.session.execute(select(func.count()).select_from(TxMessage).where(*old)).scalar_one()
    if count and not dry_run:
        db.session.execute(update(TxMessage).where(*old).values(email="", email_hash="", name="", data=None))
        db.session.commit()
    return int(count)


def by_public_id(public_id: str) -> TxMessage | None:
    """The message an integration was given the id of."""
    query = select(TxMessage).where(TxMessage.public_id == public_id[:32])
    return db.session.execute(query).scalar_one_or_none()


def sent_log(
    page: int = 1, per_page: int = 50, template: TxTemplate | None = None
) -> tuple[list[TxMessage], int]:
    """The newest messages first (one page) and how many there are."""
    query = select(TxMessage)
    if template is not None:
        query = query.where(TxMessage.template_id == template.id)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = db.session.execute(
        query.order_by(TxMessage.id.desc()).offset((max(page, 1) - 1) * per_page).limit(per_page)
    ).scalars()
    return list(rows), int(total)


def log_page(
    limit: int, before: TxMessage | None = None, template: TxTemplate | None = None, status: str = ""
) -> tuple[list[TxMessage], bool]:
    """The sent log by keyset, newest first: up to `limit` messages older than `before` (of one template, in
    one status, when given) and whether there are more."""
    query = select(TxMessage)
    if before is not None:
        query = query.where(TxMessage.id < before.id)
    if template is not None:
        query = query.where(TxMessage.template_id == template.id)
    if status:
        query = query.where(TxMessage.status == status)
    rows = list(db.session.execute(query.order_by(TxMessage.id.desc()).limit(limit + 1)).scalars())
    return rows[:limit], len(rows) > limit
