"""Re-permission: staff ask a list's confirmed subscribers whether they still want it, by a deadline.

A bulk job asks (one row per list and contact, `ask`), workers send one email per contact listing every list
that waits for their answer (`send_reconfirmation`, paced by the global send rate), the person presses the
button on the page the email links to (`keep`: a "granted" ledger event per list, reason "reconfirmed"), and
at the deadline the scheduler removes those who did not answer (`expire_due`: a "withdrawn" ledger event per
list, reason "no_reconfirmation", exactly as an unsubscribe). The email carries no advertising: one button.
A list's email may be edited per language (system_emails); the ledger's "reconfirmation_sent" event, one per
list asked, names the version of the words sent.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace

from flask import render_template
from flask_babel import gettext
from sqlalchemy import select

from mailer.consent.ledger import RequestContext, record_consent
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.operations import touch
from mailer.core import i18n
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.urls import RecipientLink, base_url, recipient_url
from mailer.delivery.notices import send_templated
from mailer.delivery.outgoing import MessageKind
from mailer.delivery.ratelimit import send_rate
from mailer.organisation import settings as organisation_settings
from mailer.subscriptions import system_emails
from mailer.subscriptions.models.lists import MailingList, Subscription, SubscriptionStatus
from mailer.subscriptions.models.reconfirmations import ListReconfirmation, ReconfirmationState
from mailer.subscriptions.models.system_emails import SystemEmail, SystemEmailKind
from mailer.subscriptions.withdrawal import withdraw_list

MIN_DAYS, MAX_DAYS, DEFAULT_DAYS = 7, 90, 30
EXPIRY_BATCH = 500
WAITING = ReconfirmationState.WAITING


@dataclass(frozen=True)
class Waiting:
    """A list that waits for this person's answer, and until when."""

    name: str
    deadline_at: datetime


def _confirmed_on(mailing_list: MailingList, contact_ids: list[int]) -> list[int]:
    return list(
        db.session.execute(
            select(Subscription.contact_id).where(
                Subscription.list_id == mailing_list.id,
                Subscription.contact_id.in_(contact_ids),
                Subscription.status == SubscriptionStatus.CONFIRMED,
            )
        ).scalars()
    )


def ask(mailing_list: MailingList, contact_ids: list[int], job: str, deadline_at: datetime) -> list[int]:
    """Ask these contacts (those confirmed on the list, not already waiting for an earlier request of it) to
    re-confirm it by `deadline_at`; returns the ids asked, whom the caller emails after committing."""
    confirmed = _confirmed_on(mailing_list, contact_ids)
    if not confirmed:
        return []
    rows = {
        row.contact_id: row
        for row in db.session.execute(
            select(ListReconfirmation).where(
                ListReconfirmation.list_id == mailing_list.id, ListReconfirmation.contact_id.in_(confirmed)
            )
        ).scalars()
    }
    now, asked = utcnow(), []
    for contact_id in confirmed:
        row = rows.get(contact_id)
        if row is not None and row.state == WAITING:
            continue  # an earlier request's deadline stands; they get no second email for it
        if row is None:
            row = ListReconfirmation(list_id=mailing_list.id, contact_id=contact_id)
            db.session.add(row)
        row.bulk_job, row.state, row.asked_at, row.deadline_at = job, WAITING, now, deadline_at
        row.sent_at = row.answered_at = None
        asked.append(contact_id)
    return asked


def waiting_for(contact: Contact, lock: bool = False) -> list[tuple[ListReconfirmation, MailingList]]:
    """The contact's requests that wait for an answer, with their lists, by list name; `lock`: their rows
    locked until the commit (two workers, or two presses of the button, act once)."""
    query = (
        select(ListReconfirmation, MailingList)
        .join(MailingList, MailingList.id == ListReconfirmation.list_id)
        .where(ListReconfirmation.contact_id == contact.id, ListReconfirmation.state == WAITING)
        .order_by(MailingList.name)
    )
    if lock:
        query = query.with_for_update(of=ListReconfirmation)
    return [(row, mailing_list) for row, mailing_list in db.session.execute(query).all()]


def _wording_record(mailing_list: MailingList, language: str, row: SystemEmail | None) -> dict:
    """What the ledger keeps of the words sent: the built-in text, or the list's edited version (its hash and,
    so the proof stands alone after later edits, the words with their merge tags)."""
    record = {"list": mailing_list.public_id, "language": language, "version": "built-in"}
    if row is not None:
        record.update(version=row.content_hash, subject=row.subject, body=row.body, button=row.button_label)
    return record


def _wordings(unsent, language: str) -> list[tuple[SystemEmail | None, list]]:
    """The waiting lists grouped by the words that ask about them: lists whose email was never edited in this
    language share one built-in email; each edited version has its own email (its own words, its lists)."""
    groups: dict[str, tuple[SystemEmail | None, list]] = {}
    for row, mailing_list in unsent:
        wording = system_emails.edited(mailing_list, language)
        key = wording.content_hash if wording is not None else "built-in"
        groups.setdefault(key, (wording, []))[1].append((row, mailing_list))
    return list(groups.values())


def _edited_email(wording: SystemEmail, contact_name: str | None, list_names: list[str]):
    """The list's edited words filled in for this person (None: use the built-in ones, should a stored text
    ever fail to render)."""
    tags = {
        "name": contact_name,
        "organisation": organisation_settings.name(),
        "lists": ", ".join(list_names),
    }
    text = system_emails.EmailText(wording.subject, wording.body, wording.button_label)
    try:
        return system_emails.render(text, tags, SystemEmailKind.RECONFIRMATION)
    except system_emails.EmailRefused:
        return None


def _email_context(edited, list_names: list[str], deadline: datetime, keep_url: str, contact) -> tuple:
    """(subject, template context) of one re-confirmation email; `edited`: the list's words, else built-in."""
    context = {"contact": contact, "lists": list_names, "deadline": deadline, "keep_url": keep_url}
    subject = gettext(
        "%(organisation)s: do you still want our emails?", organisation=organisation_settings.name()
    )
    if edited is not None:  # the marketer's words; the template adds the required parts around them
        subject = edited.subject
        context["edited"] = edited
        context["edited_html"] = system_emails.paragraphs_html(edited.paragraphs)
    return subject, context


def send_reconfirmation(contact_id: int) -> str | None:
    """Email one contact the lists that wait for their answer (each request once); its Message-ID, or None
    when there is nothing to ask (left the list, erased, already emailed). Lists whose edited wordings
    differ are asked in separate emails (the last Message-ID is returned); each list asked gets a
    "reconfirmation_sent" ledger event naming the version of the words."""
    contact = db.session.get(Contact, contact_id)
    if contact is None or contact.status != ContactStatus.ACTIVE or not contact.email:
        return None
    unsent = [(row, ml) for row, ml in waiting_for(contact, lock=True) if row.sent_at is None]
    if not unsent:
        db.session.rollback()
        return None
    language = i18n.supported(contact.language) or i18n.DEFAULT_LANGUAGE
    message_id = None
    with i18n.speaking(language):
        for wording, group in _wordings(unsent, language):
            names = [ml.name for _, ml in group]
            edited = _edited_email(wording, contact.name, names) if wording is not None else None
            subject, context = _email_context(
                edited,
                names,
                min(row.deadline_at for row, _ in group),
                recipient_url(RecipientLink.LIST_RECONFIRM, contact.public_id),
                contact,
            )
            message_id = send_templated(
                MessageKind.REPERMISSION,
                "email/list_reconfirm",
                contact.email,
                contact.name,
                subject,
                **context,
            )
            now = utcnow()
            for row, mailing_list in group:
                row.sent_at = now
                details = {
                    "message_id": message_id,
                    "list": mailing_list.public_id,
                    "bulk_job": row.bulk_job,
                    "wording": _wording_record(mailing_list, language, wording if edited else None),
                }
                ctx = RequestContext("system:reconfirmation")
                record_consent(contact, mailing_list.purpose, "reconfirmation_sent", ctx, details=details)
    db.session.commit()
    return message_id


def preview_reconfirmation(
    mailing_list: MailingList, language: str, text: system_emails.EmailText
) -> system_emails.Preview:
    """The list's re-confirmation email in `language` with `text` (checked: EmailRefused), for a sample
    person asked today with the default deadline; nothing is stored or sent."""
    with i18n.speaking(language):
        sample = SimpleNamespace(name=gettext("Alex Example"))
        tags = {"name": sample.name, "organisation": organisation_settings.name(), "lists": mailing_list.name}
        edited = system_emails.render(text, tags, SystemEmailKind.RECONFIRMATION)
        deadline = utcnow() + timedelta(days=DEFAULT_DAYS)
        subject, context = _email_context(
            edited, [mailing_list.name], deadline, f"{base_url()}/stay/…", sample
        )
        context["organisation"] = organisation_settings.name()
        context["postal_address"] = organisation_settings.postal_address()
        return system_emails.Preview(
            subject,
            render_template("email/list_reconfirm.html", **context),
            render_template("email/list_reconfirm.txt", **context),
        )


def send_reconfirmations(contact_ids: list[int]) -> None:
    """The emails of one bulk batch, paced by the global send rate (the bucket campaigns draw from)."""
    rate = send_rate()
    waiting = list(contact_ids)
    while waiting:
        granted = rate.acquire(len(waiting))
        for contact_id in waiting[:granted]:
            send_reconfirmation(contact_id)
        db.session.commit()
        waiting = waiting[granted:]


def keep(contact: Contact, ctx: RequestContext) -> list[str]:
    """The person pressed "keep me subscribed": each waiting list they are still confirmed on is re-confirmed
    (a "granted" ledger event, reason "reconfirmed"); returns those lists' names. The caller commits."""
    kept, now = [], utcnow()
    for row, mailing_list in waiting_for(contact, lock=True):
        still_on = _confirmed_on(mailing_list, [contact.id])
        row.answered_at = now
        if not still_on or mailing_list.purpose is None:
            row.state = ReconfirmationState.MOOT
            continue
        record_consent(
            contact,
            mailing_list.purpose,
            "granted",
            ctx,
            details={"reason": "reconfirmed", "list": mailing_list.public_id, "bulk_job": row.bulk_job},
        )
        row.state = ReconfirmationState.KEPT
        kept.append(mailing_list.name)
    if kept:
        touch(contact)
    return kept


def _expire_one(row: ListReconfirmation, contact: Contact | None, mailing_list: MailingList) -> None:
    on_list = contact is not None and contact.status == ContactStatus.ACTIVE
    if on_list and contact is not None and _confirmed_on(mailing_list, [contact.id]):
        details = {"list": mailing_list.public_id, "reason": "no_reconfirmation", "bulk_job": row.bulk_job}
        withdraw_list(contact, mailing_list, RequestContext("system:reconfirmation"), details)
        row.state = ReconfirmationState.REMOVED
    else:
        row.state = ReconfirmationState.MOOT
    row.answered_at = utcnow()


def expire_due(now: datetime | None = None) -> int:
    """Remove from the list everyone whose deadline passed without an answer, a batch per transaction (rows
    locked with SKIP LOCKED on PostgreSQL, so two workers never remove the same person twice); returns how
    many were removed."""
    now = now or utcnow()
    removed = 0
    while True:
        rows = list(
            db.session.execute(
                select(ListReconfirmation)
                .where(ListReconfirmation.state == WAITING, ListReconfirmation.deadline_at < now)
                .order_by(ListReconfirmation.deadline_at)
                .limit(EXPIRY_BATCH)
                .with_for_update(skip_locked=True)
            ).scalars()
        )
        if not rows:
            db.session.commit()
            return removed
        lists = {
            ml.id: ml
            for ml in db.session.execute(
                select(MailingList).where(MailingList.id.in_({r.list_id for r in rows}))
            ).scalars()
        }
        contacts = {
            c.id: c
            for c in db.session.execute(
                select(Contact).where(Contact.id.in_({r.contact_id for r in rows}))
            ).scalars()
        }
        for row in rows:
            _expire_one(row, contacts.get(row.contact_id), lists[row.list_id])
            removed += row.state == ReconfirmationState.REMOVED
        db.session.commit()
