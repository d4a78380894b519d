"""The preference centre: a person's lists, consents and name, changed without a login (REQUIREMENTS F2, F3,
I).

The signed per-contact token proves the address, so joining another public list is granted directly; every
change is one ledger event with source "preference-centre" and the notice version the person was shown. A
suppressed address (unsubscribed from everything) comes back only through a fresh double opt-in.
"""

from dataclasses import dataclass, field

from flask import current_app
from flask_babel import gettext, lazy_gettext
from sqlalchemy import or_, select

from mailer.consent.ledger import RequestContext
from mailer.consent.models import ConsentState, Notice, Purpose
from mailer.consent.notices import publish_notice
from mailer.contacts import fields as contact_fields
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.models.fields import ContactField
from mailer.contacts.operations import clean_name
from mailer.contacts.suppression import is_suppressed
from mailer.core import i18n
from mailer.core.clock import utcnow
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.core.security import TokenExpired, TokenInvalid, read_token
from mailer.core.text import TextRefused
from mailer.subscriptions.forms import default_label
from mailer.subscriptions.models.lists import MailingList, Subscription
from mailer.subscriptions.operations import Basis, Door, Outcome, request_confirmation_email, subscribe
from mailer.subscriptions.withdrawal import unsubscribe_everything, withdraw_list, withdraw_purpose

NOTICE_KEY = "preference-centre"
SOURCE = "preference-centre"
PRIVACY_ACTIONS = (
    ("access", lazy_gettext("Download a copy of your data")),
    ("portability", lazy_gettext("Take your data to another service")),
    ("rectification", lazy_gettext("Correct your data")),
    ("erasure", lazy_gettext("Erase your data")),
    ("restriction", lazy_gettext("Restrict the use of your data")),
    ("objection", lazy_gettext("Object to a use of your data")),
)


class PreferencesError(ValueError):
    """A change cannot be made; the message is written for the person."""


@dataclass
class Choice:
    """One checkbox: a list or a purpose, whether it is on, and the words shown next to it."""

    purpose: Purpose
    label: str
    status: str | None  # list: confirmed/pending/unsubscribed; purpose: granted/pending/withdrawn/...
    mailing_list: MailingList | None = None

    @property
    def value(self) -> str:
        return self.mailing_list.public_id if self.mailing_list is not None else self.purpose.public_id

    @property
    def checked(self) -> bool:
        return self.status in ("confirmed", "granted", "pending")

    @property
    def pending(self) -> bool:
        return self.status == "pending"


@dataclass
class PreferencePage:
    """Everything the preference centre shows one person."""

    contact: Contact
    lists: list[Choice]
    purposes: list[Choice]
    notice: Notice
    restricted: bool
    suppressed: bool
    fields: list[tuple[ContactField, str]] = field(default_factory=list)


@dataclass
class PreferenceChanges:
    """What a save did, for the confirmation message."""

    granted: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    name_changed: bool = False
    fields_changed: list[str] = field(default_factory=list)
    language_changed: bool = False

    @property
    def any(self) -> bool:
        return bool(
            self.granted
            or self.requested
            or self.withdrawn
            or self.name_changed
            or self.fields_changed
            or self.language_changed
        )


def contact_for_token(token: str) -> tuple[Contact | None, str]:
    """The contact a preference token names, with "ok", "expired" or "invalid"."""
    try:
        public_id = read_token("preferences", token, max_age=current_app.config["RECIPIENT_TOKEN_MAX_AGE"])
    except TokenExpired:
        return None, "expired"
    except TokenInvalid:
        return None, "invalid"
    if not isinstance(public_id, str):
        return None, "invalid"
    contact = db.session.execute(select(Contact).where(Contact.public_id == public_id)).scalar_one_or_none()
    if contact is None or contact.status == ContactStatus.ERASED:
        return None, "invalid"
    return contact, "ok"


def _states(contact: Contact) -> dict[int, str]:
    query = select(ConsentState.purpose_id, ConsentState.status).where(ConsentState.contact_id == contact.id)
    return dict(db.session.execute(query).all())


def _list_choices(contact: Contact, states: dict[int, str]) -> list[Choice]:
    """Public lists, plus private ones the person is (or is waiting to be) on."""
    subs = {
        s.list_id: s.status
        for s in db.session.execute(
            select(Subscription).where(Subscription.contact_id == contact.id)
        ).scalars()
    }
    query = (
        select(MailingList)
        .join(Purpose, Purpose.list_id == MailingList.id)
        .where(
            MailingList.archived_at.is_(None),
            or_(
                MailingList.visibility == "public",
                MailingList.id.in_([lid for lid, st in subs.items() if st in ("confirmed", "pending")]),
            ),
        )
        .order_by(MailingList.name)
    )
    return [
        Choice(lst.purpose, default_label(lst.purpose), subs.get(lst.id), lst)
        for lst in db.session.execute(query).scalars()
    ]


def _purpose_choices(states: dict[int, str]) -> list[Choice]:
    """Consent purposes other than lists: open tracking, click tracking, any other use."""
    query = (
        select(Purpose)
        .where(Purpose.kind != "list", Purpose.legal_basis == "consent")
        .order_by(Purpose.kind.desc(), Purpose.name)
    )
    return [Choice(p, default_label(p), states.get(p.id)) for p in db.session.execute(query).scalars()]


def notice_content(lists: list[Choice], purposes: list[Choice]) -> dict:
    """The words of the preference centre, stored as a versioned notice (what each choice was given
    against)."""
    return {
        "title": "Your email preferences",
        "intro": "Tick what you want; untick what you don't. Nothing is ticked unless you chose it.",
        "checkboxes": [{"purpose": c.purpose.key, "label": c.label} for c in lists + purposes],
        "unsubscribe_all": "Unsubscribe from everything",
        "privacy": "We use your address only for what is ticked here. You can change this at any time.",
    }


def preference_page(contact: Contact) -> PreferencePage:
    """Build the page and publish the notice version it shows (a new version only when the words change)."""
    states = _states(contact)
    lists, purposes = _list_choices(contact, states), _purpose_choices(states)
    notice = publish_notice(NOTICE_KEY, notice_content(lists, purposes))
    db.session.commit()
    address = contact.email_hash
    suppressed = address is not None and is_suppressed(address)
    return PreferencePage(
        contact,
        lists,
        purposes,
        notice,
        contact.status == ContactStatus.RESTRICTED,
        suppressed,
        [(f, contact_fields.read_value(contact, f) or "") for f in editable_fields()],
    )


def editable_fields() -> list[ContactField]:
    """Custom fields a person may edit here: ordinary ones only (identifiers and sensitive data go through the
    verified correction request of the privacy pages)."""
    return [f for f in contact_fields.all_fields() if f.category == "ordinary"]


def _shown_notice(version: str | None, page: PreferencePage) -> Notice:
    """The notice version the form was rendered with, else the current one."""
    if version and version.isdigit():
        notice = db.session.execute(
            select(Notice).where(Notice.key == NOTICE_KEY, Notice.version == int(version))
        ).scalar_one_or_none()
        if notice is not None:
            return notice
    return page.notice


def save_preferences(
    contact: Contact,
    ticked: set[str],
    name: str | None,
    notice_version: str | None,
    ctx: RequestContext,
    values: dict[str, str] | None = None,
    language: str | None = None,
) -> PreferenceChanges:
    """Apply the ticked boxes, the name, ordinary field values and the language of our mail and pages (None:
    unchanged); one ledger event per consent change."""
    page = preference_page(contact)
    if page.restricted:
        raise PreferencesError(
            gettext("Your data is restricted at your request, so it can't be changed here right now.")
        )
    choices = page.lists + page.purposes
    if ticked - {c.value for c in choices}:
        raise PreferencesError(
            gettext("One of the choices isn't available any more. Please reload the page and try again.")
        )
    try:
        name = clean_name(name) if name is not None else None
    except TextRefused as exc:
        raise PreferencesError(str(exc)) from None
    if language is not None and i18n.supported(language) is None:
        raise PreferencesError(gettext("That language isn't offered. Please choose one from the list."))
    notice = _shown_notice(notice_version, page)
    changes = PreferenceChanges()
    for choice in choices:
        wanted = choice.value in ticked
        if wanted and not choice.checked:
            _give(contact, choice, ctx, notice, changes)
        elif not wanted and choice.checked:
            _withdraw(contact, choice, ctx, changes)
    if name is not None and name != (contact.name or ""):
        contact.name, changes.name_changed = name or None, True
    _save_fields(contact, values or {}, page, changes)
    if language is not None and language != contact.language:
        contact.language, changes.language_changed = language, True
    if changes.any:
        contact.last_activity_at = utcnow()
    db.session.commit()
    if changes.requested:
        request_confirmation_email(contact)
    return changes


def _save_fields(
    contact: Contact, values: dict[str, str], page: PreferencePage, changes: PreferenceChanges
) -> None:
    """Store changed ordinary field values (empty clears); unknown keys are ignored."""
    for custom, current in page.fields:
        if custom.key not in values:
            continue
        wanted = " ".join(values[custom.key].split())
        if wanted == current:
            continue
        try:
            contact_fields.set_value(contact, custom, wanted)
        except PrivacyError as exc:
            raise PreferencesError(str(exc)) from None
        changes.fields_changed.append(custom.label)


def _give(
    contact: Contact,
    choice: Choice,
    ctx: RequestContext,
    notice: Notice,
    changes: PreferenceChanges,
) -> None:
    """Grant directly (the token proves the address), or request a double opt-in for a suppressed address."""
    door = Door(ctx, SOURCE, Basis.VERIFIED, notice, {"via": SOURCE})
    outcome = subscribe(contact, [choice.purpose], door).outcomes[0][1]
    if outcome == Outcome.REQUESTED:
        changes.requested.append(choice.purpose.name)
    elif outcome == Outcome.GRANTED:
        changes.granted.append(choice.purpose.name)


def _withdraw(contact: Contact, choice: Choice, ctx: RequestContext, changes: PreferenceChanges) -> None:
    """Withdraw as easily as it was given: one unticked box, no confirmation step."""
    details = {"via": SOURCE}
    if choice.mailing_list is not None:
        changed = withdraw_list(contact, choice.mailing_list, ctx, details)
    else:
        changed = withdraw_purpose(contact, choice.purpose, ctx, details)
    if changed:
        changes.withdrawn.append(choice.purpose.name)


def unsubscribe_all(contact: Contact, ctx: RequestContext) -> bool:
    """Leave every list, withdraw every consent and suppress the address (one button, works while
    restricted)."""
    changed = unsubscribe_everything(contact, ctx, {"via": SOURCE})
    db.session.commit()
    return changed


def privacy_links(token: str) -> list[tuple[str, str]]:
    """Where the data-subject actions of the privacy feature live, per kind (plain paths)."""
    return [(f"/p/{token}/privacy/{kind}", str(label)) for kind, label in PRIVACY_ACTIONS]
