"""Transactional mail: the double opt-in confirmation email (no advertising, no one-click headers: A7, G2)."""

from types import SimpleNamespace

from flask import current_app, render_template
from flask_babel import gettext

from mailer.consent.ledger import RequestContext, record_consent
from mailer.consent.models import Purpose
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.core import i18n
from mailer.core.extensions import db
from mailer.core.urls import RecipientLink, base_url, recipient_url
from mailer.delivery.notices import send_templated
from mailer.delivery.outgoing import MessageKind
from mailer.organisation import settings as organisation_settings
from mailer.subscriptions import system_emails
from mailer.subscriptions.forms import wording_for
from mailer.subscriptions.models.forms import Form
from mailer.subscriptions.models.system_emails import SystemEmail
from mailer.subscriptions.signup import pending_purposes, pending_subscriptions, signup_form_of


def agreed_use(purpose: Purpose) -> str:
    """What a ticked purpose other than a list lets us do, as the person reads it in the email."""
    if purpose.kind == "tracking_open":
        return gettext("record when you open our emails")
    if purpose.kind == "tracking_click":
        return gettext("record which links in our emails you click")
    return purpose.name


def _edited_email(form: Form, row: SystemEmail, context: dict) -> system_emails.RenderedEmail | None:
    """The form's edited confirmation email filled in for this person (None: use the built-in one, should a
    stored text ever fail to render)."""
    tags = {
        "name": context["contact"].name,
        "organisation": organisation_settings.name(),
        "lists": ", ".join(context["list_names"]),
        "form": wording_for(form, row.language).title,
    }
    try:
        return system_emails.render(system_emails.EmailText(row.subject, row.body, row.button_label), tags)
    except system_emails.EmailRefused:
        return None


def _wording_record(form: Form | None, language: str, row: SystemEmail | None) -> dict:
    """What the ledger keeps of the words the person was told: the built-in text, or the form's edited
    version (its hash and, so the proof stands alone after later edits, the words with their merge tags)."""
    record = {"form": form.slug if form is not None else None, "language": language, "version": "built-in"}
    if row is not None:
        record.update(version=row.content_hash, subject=row.subject, body=row.body, button=row.button_label)
    return record


def send_confirmation_email(contact_id: int) -> str | None:
    """Send the confirmation email and log it in the ledger; returns its Message-ID, or None if moot."""
    contact = db.session.get(Contact, contact_id)
    if contact is None or contact.status != ContactStatus.ACTIVE or not contact.email:
        return None
    subs, purposes = pending_subscriptions(contact), pending_purposes(contact)
    if not subs and not purposes:
        return None
    config = current_app.config
    with i18n.speaking(contact.language):
        context = {
            "contact": contact,
            "list_names": [s.mailing_list.name for s in subs],
            "agreed": [agreed_use(p) for p in purposes if p.kind != "list"],
            "confirm_url": recipient_url(RecipientLink.CONFIRM, contact.public_id),
            "max_age_days": config["CONFIRM_TOKEN_MAX_AGE"] // 86400,
        }
        subject = gettext(
            "Please confirm your subscription to %(organisation)s", organisation=organisation_settings.name()
        )
        form = signup_form_of(contact)
        language = i18n.supported(contact.language) or i18n.DEFAULT_LANGUAGE
        row = system_emails.edited(form, language) if form is not None else None
        edited = _edited_email(form, row, context) if form is not None and row is not None else None
        if edited is None:
            row = None
        else:  # the marketer's words; the template adds the required parts around them
            subject = edited.subject
            context["edited"] = edited
            context["edited_html"] = system_emails.paragraphs_html(edited.paragraphs)
        message_id = send_templated(
            MessageKind.CONFIRMATION, "email/confirm", contact.email, contact.name, subject, **context
        )
    record_consent(
        contact,
        None,
        "confirmation_sent",
        RequestContext("system:double-opt-in"),
        details={
            "message_id": message_id,
            "lists": context["list_names"],
            # Which words the person was told: the form's edited version (its hash), else the built-in one.
            "wording": _wording_record(form, language, row),
        },
    )
    db.session.commit()
    return message_id


def preview_confirmation(form: Form, language: str, text: system_emails.EmailText) -> system_emails.Preview:
    """The form's confirmation email in `language` with `text` (checked: EmailRefused), for a sample person;
    nothing is stored or sent."""
    purposes = [p for p in form.purposes if p.kind != "list"]
    with i18n.speaking(language):
        context = {
            "contact": SimpleNamespace(name=gettext("Alex Example")),
            "list_names": [lst.name for lst in form.lists],
            "agreed": [agreed_use(p) for p in purposes],
            "confirm_url": f"{base_url()}/confirm/…",
            "max_age_days": current_app.config["CONFIRM_TOKEN_MAX_AGE"] // 86400,
            "organisation": organisation_settings.name(),
            "postal_address": organisation_settings.postal_address(),
        }
        tags = {
            "name": context["contact"].name,
            "organisation": context["organisation"],
            "lists": ", ".join(context["list_names"]),
            "form": wording_for(form, language).title,
        }
        edited = system_emails.render(text, tags)
        context["edited"], context["edited_html"] = edited, system_emails.paragraphs_html(edited.paragraphs)
        return system_emails.Preview(
            edited.subject,
            render_template("email/confirm.html", **context),
            render_template("email/confirm.txt", **context),
        )
