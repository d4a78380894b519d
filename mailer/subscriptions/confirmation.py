"""Transactional mail: the double opt-in confirmation email (no advertising, no one-click headers: A7, G2)."""

from flask import current_app
from flask_babel import gettext

from mailer.consent.ledger import RequestContext, record_consent
from mailer.consent.models import Purpose
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.core import i18n
from mailer.core.extensions import db
from mailer.core.urls import RecipientLink, recipient_url
from mailer.delivery.notices import send_templated
from mailer.delivery.outgoing import MessageKind
from mailer.organisation import settings as organisation_settings
from mailer.subscriptions.signup import pending_purposes, pending_subscriptions


def agreed_use(purpose: Purpose) -> str:
    """What a ticked purpose other than a list lets us do, as the person reads it in the email."""
    if purpose.kind == "tracking_open":
        return gettext("record when you open our emails")
    if purpose.kind == "tracking_click":
        return gettext("record which links in our emails you click")
    return purpose.name


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
        message_id = send_templated(
            MessageKind.CONFIRMATION, "email/confirm", contact.email, contact.name, subject, **context
        )
    record_consent(
        contact,
        None,
        "confirmation_sent",
        RequestContext("system:double-opt-in"),
        details={"message_id": message_id, "lists": context["list_names"]},
    )
    db.session.commit()
    return message_id
