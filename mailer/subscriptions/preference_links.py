"""Fresh preference-centre links by email, asked for by address without saying whether it is known (I1)."""

from flask import current_app
from flask_babel import gettext
from sqlalchemy import select

from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.operations import AddressError, email_hash, normalise_email
from mailer.core import i18n
from mailer.core.broker import enqueue
from mailer.core.extensions import db
from mailer.core.urls import preferences_url
from mailer.delivery.notices import send_templated
from mailer.delivery.outgoing import MessageKind
from mailer.organisation import settings as organisation_settings
from mailer.subscriptions import throttle
from mailer.subscriptions.preferences import PreferencesError


def request_link(raw_email: str) -> None:
    """Check the address and queue the lookup: a worker emails a fresh link if the address is known, so
    neither the answer nor its time says whether it is (no enumeration). Only its keyed hash goes through the
    broker."""
    try:
        email = normalise_email(raw_email)
    except AddressError as exc:
        raise PreferencesError(str(exc)) from None
    enqueue("preferences_link_for_address", email_hash(email))


def send_link_for_hash(address_hash: str) -> None:
    """Queue a fresh preference-centre link if this address (by its keyed hash) is a contact, within its
    cap."""
    contact = db.session.execute(
        select(Contact).where(Contact.email_hash == address_hash)
    ).scalar_one_or_none()
    if (
        contact is not None
        and contact.status != ContactStatus.ERASED
        and throttle.allow(
            current_app.config["PREFERENCES_LINK_PER_ADDRESS"], "preferences-link", address_hash
        )
    ):
        enqueue("send_preferences_link", contact.id)


def send_link_email(contact_id: int) -> str | None:
    """Send the preference-centre link by email (transactional: no one-click headers); returns its
    Message-ID."""
    contact = db.session.get(Contact, contact_id)
    if contact is None or contact.status == ContactStatus.ERASED or not contact.email:
        return None
    with i18n.speaking(contact.language):
        return send_templated(
            MessageKind.PREFERENCES_LINK,
            "email/preferences_link",
            contact.email,
            contact.name,
            gettext("Your email preferences at %(organisation)s", organisation=organisation_settings.name()),
            contact=contact,
            preferences_url=preferences_url(contact.public_id),
        )
