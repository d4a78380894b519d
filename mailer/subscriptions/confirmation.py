"""Transactional mail: the double opt-in confirmation email (no advertising, no one-click headers: A7, G2)."""

from flask import current_app, render_template

from mailer.consent.ledger import RequestContext, record_consent
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.core.extensions import db
from mailer.core.urls import RecipientLink, recipient_url
from mailer.delivery.outgoing import MessageKind, Outgoing, default_sender, send
from mailer.subscriptions.signup import pending_purposes, pending_subscriptions


def send_confirmation_email(contact_id: int) -> str | None:
    """Send the confirmation email and log it in the ledger; returns its Message-ID, or None if moot."""
    contact = db.session.get(Contact, contact_id)
    if contact is None or contact.status != ContactStatus.ACTIVE or not contact.email:
        return None
    subs, purposes = pending_subscriptions(contact), pending_purposes(contact)
    if not subs and not purposes:
        return None
    config = current_app.config
    context = {
        "contact": contact,
        "list_names": [s.mailing_list.name for s in subs],
        "purposes": [p for p in purposes if p.kind != "list"],
        "confirm_url": recipient_url(RecipientLink.CONFIRM, contact.public_id),
        "organisation": config["MAILER_ORGANISATION"],
        "postal_address": config["MAILER_POSTAL_ADDRESS"],
        "max_age_days": config["CONFIRM_TOKEN_MAX_AGE"] // 86400,
    }
    subject = f"Please confirm your subscription to {config['MAILER_ORGANISATION']}"
    message_id = send(
        Outgoing(
            kind=MessageKind.CONFIRMATION,
            sender=default_sender(),
            to_addr=contact.email,
            to_name=contact.name,
            subject=subject,
            text=render_template("email/confirm.txt", **context),
            html=render_template("email/confirm.html", **context),
        )
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
