"""Emails of the privacy module: identity verification, address re-confirmation, data download, re-permission,
deadline warnings.

Called by actors (never from a request); each re-reads state and does nothing when the mail has become moot.
"""

from flask_babel import format_date, gettext, lazy_gettext, ngettext
from sqlalchemy import select

from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.core import i18n
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.urls import RecipientLink, external_url, recipient_url
from mailer.delivery.notices import send_notice
from mailer.delivery.outgoing import MessageKind
from mailer.organisation import settings as organisation_settings
from mailer.privacy.models.requests import PrivacyRequest, RepermissionEmail
from mailer.privacy.requests import TYPE_LABELS, due_for_reminder
from mailer.privacy.settings import get_settings
from mailer.staff.models.accounts import StaffUser

# What the person is told, in their language: the right they asked for and what happens once they confirm.
RIGHT_NAMES = {
    "access": lazy_gettext("access to your data"),
    "portability": lazy_gettext("data portability"),
    "rectification": lazy_gettext("rectification"),
    "erasure": lazy_gettext("erasure"),
    "restriction": lazy_gettext("restriction of processing"),
    "objection": lazy_gettext("objection"),
}
WHAT_HAPPENS = {
    "access": lazy_gettext("After you confirm, we prepare a download of all data we hold about you."),
    "portability": lazy_gettext("After you confirm, we prepare a download of your data in JSON and CSV."),
    "rectification": lazy_gettext("After you confirm, we apply the corrections you asked for."),
    "erasure": lazy_gettext("After you confirm, we erase your data; this cannot be undone."),
    "restriction": lazy_gettext(
        "After you confirm, we stop using your data (it stays stored) until you or we lift the restriction."
    ),
    "objection": lazy_gettext("After you confirm, we stop the uses you objected to."),
}


def right_name(kind: str) -> str:
    """The right a request exercises, as the person reads it in the language being spoken."""
    return str(RIGHT_NAMES[kind])


def send_verification(request_id: int) -> str | None:
    """Ask the person, at the address on file, to confirm the request really comes from them."""
    req = db.session.get(PrivacyRequest, request_id)
    if req is None or req.identity_verified_at is not None or not req.is_open:
        return None
    contact = req.contact
    if contact is None or contact.status == ContactStatus.ERASED or not contact.email:
        return None
    with i18n.speaking(contact.language):
        label = right_name(req.type)
        message_id = send_notice(
            MessageKind.PRIVACY_VERIFICATION,
            contact.email,
            contact.name,
            gettext("Please confirm your request: %(right)s", right=label),
            heading=gettext("Confirm your request: %(right)s", right=label),
            paragraphs=[
                gettext(
                    "We received a request to exercise your right (%(right)s) with %(organisation)s on "
                    "%(date)s. To protect your data we act only once you confirm it was you.",
                    right=label,
                    organisation=organisation_settings.name(),
                    date=format_date(req.received_at, "long"),
                ),
                str(WHAT_HAPPENS[req.type]),
            ],
            button_url=recipient_url(RecipientLink.PRIVACY_VERIFY, req.public_id),
            button_label=gettext("Yes, this was me — continue"),
            footnote=gettext(
                "The link works for 7 days. If you did not make this request, ignore this email: nothing "
                "happens."
            ),
        )
    req.verification_sent_at = utcnow()
    db.session.commit()
    return message_id


def send_address_reconfirmation(request_id: int) -> str | None:
    """Double opt-in for a changed address: the new address must confirm before we use it."""
    req = db.session.get(PrivacyRequest, request_id)
    new_email = (req.details or {}).get("new_email") if req is not None else None
    if req is None or not new_email or req.contact is None or req.contact.status == ContactStatus.ERASED:
        return None
    with i18n.speaking(req.contact.language):
        message_id = send_notice(
            MessageKind.ADDRESS_RECONFIRMATION,
            new_email,
            req.contact.name,
            gettext("Please confirm your new email address"),
            heading=gettext("Confirm your new email address"),
            paragraphs=[
                gettext(
                    "You asked %(organisation)s to use this address instead of the old one. We keep using "
                    "the old address until you confirm.",
                    organisation=organisation_settings.name(),
                )
            ],
            button_url=recipient_url(RecipientLink.ADDRESS_RECONFIRM, req.public_id),
            button_label=gettext("Confirm this address"),
            footnote=gettext("The link works for 7 days. If you did not ask for this, ignore this email."),
        )
    db.session.commit()
    return message_id


def send_export_link(request_id: int) -> str | None:
    """Send the person the link to download their data (when staff handled an access request)."""
    req = db.session.get(PrivacyRequest, request_id)
    if (
        req is None
        or req.contact is None
        or req.contact.status == ContactStatus.ERASED
        or not req.contact.email
    ):
        return None
    with i18n.speaking(req.contact.language):
        return send_notice(
            MessageKind.EXPORT_LINK,
            req.contact.email,
            req.contact.name,
            gettext("Your data is ready to download"),
            heading=gettext("Your data is ready"),
            paragraphs=[
                gettext(
                    "Here is a copy of all personal data we hold about you, with an explanation of how we "
                    "use it."
                )
            ],
            button_url=recipient_url(RecipientLink.DATA_DOWNLOAD, req.public_id),
            button_label=gettext("Download my data (ZIP)"),
            footnote=gettext("The link works for 7 days."),
        )


def send_repermission(contact_id: int) -> str | None:
    """Ask an inactive contact whether to keep them; without an answer retention erases them later."""
    contact = db.session.get(Contact, contact_id)
    if contact is None or contact.status != ContactStatus.ACTIVE or not contact.email:
        return None
    if db.session.get(RepermissionEmail, contact.id) is not None:
        return None
    days = get_settings().repermission_grace_days
    db.session.commit()  # release the write lock (settings row) before the outbox stores the message
    with i18n.speaking(contact.language):
        message_id = send_notice(
            MessageKind.REPERMISSION,
            contact.email,
            contact.name,
            gettext(
                "Do you still want to hear from %(organisation)s?", organisation=organisation_settings.name()
            ),
            heading=gettext("Shall we keep you on our list?"),
            paragraphs=[
                gettext(
                    "We haven't heard from you in a long time. We only keep your details while you want our "
                    "emails."
                ),
                ngettext(
                    "If you don't press the button within %(num)d day, we will erase your data and stop "
                    "writing.",
                    "If you don't press the button within %(num)d days, we will erase your data and stop "
                    "writing.",
                    days,
                ),
            ],
            button_url=recipient_url(RecipientLink.KEEP_SUBSCRIBED, contact.public_id),
            button_label=gettext("Yes, keep me subscribed"),
        )
    db.session.add(RepermissionEmail(contact_id=contact.id, message_id=message_id[:250]))
    db.session.commit()
    return message_id


def _staff_with_role(role: str) -> list[StaffUser]:
    query = select(StaffUser).where(StaffUser.active.is_(True), StaffUser.role == role)
    return list(db.session.execute(query).scalars())


def send_deadline_reminders() -> int:
    """Warn privacy officers (or the owner when there is none) of requests due soon or overdue."""
    due = due_for_reminder()
    db.session.commit()  # end the read (and any settings row it created) before the outbox writes on SQLite
    if not due:
        return 0
    staff = _staff_with_role("privacy") or _staff_with_role("owner")
    now = utcnow()
    items = [
        f"{TYPE_LABELS[r.type]} received {r.received_at:%Y-%m-%d}, due {r.deadline:%Y-%m-%d}"
        f"{' — OVERDUE' if r.deadline < now else ''} "
        f"({external_url('admin.privacy_request_show', public_id=r.public_id)})"
        for r in due
    ]
    for person in staff:
        send_notice(
            MessageKind.DEADLINE_REMINDER,
            person.email,
            None,
            f"{len(due)} privacy request(s) due soon or overdue",
            heading="Privacy requests need an answer",
            paragraphs=["These requests must be answered within one month of receipt (Art. 12(3) GDPR):"],
            items=items,
            button_url=external_url("admin.privacy_requests"),
            button_label="Open the register",
        )
    for req in due:
        req.last_reminded_at = now
    db.session.commit()
    return len(due)
