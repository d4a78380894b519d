"""A contact added by hand by staff: on a stated consent basis (recorded in the ledger, as a consent-basis
import records it) or by sending the person a double opt-in, through the one subscribe()."""

from dataclasses import dataclass, field

from mailer import audit
from mailer.consent.ledger import RequestContext
from mailer.contacts import fields as contact_fields
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.fields import ContactField
from mailer.contacts.operations import (
    AddressError,
    clean_name,
    email_hash,
    find_contact_by_email,
    get_or_create_contact,
    normalise_email,
)
from mailer.contacts.suppression import is_suppressed
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.core.text import TextRefused
from mailer.subscriptions.models.lists import MailingList
from mailer.subscriptions.operations import Basis, Door, Outcome, request_confirmation_email, subscribe

MIN_STATEMENT_LENGTH = 20
MAX_STATEMENT_LENGTH = 5000
MANUAL_BASES = (Basis.PRIOR_CONSENT, Basis.DOUBLE_OPT_IN)


class ContactRefused(ValueError):
    """The contact cannot be added; the message says why, `field_name` which input is wrong (if one is)."""

    def __init__(self, message: str, field_name: str = ""):
        super().__init__(message)
        self.field_name = field_name


class ContactExists(ContactRefused):
    """The address belongs to a contact already: staff are sent to it instead."""

    def __init__(self, contact: Contact):
        super().__init__("A contact with this address already exists.", "email")
        self.contact = contact


@dataclass
class NewContact:
    """What a staff member typed on the add-contact page."""

    email: str
    name: str
    lists: list[MailingList]
    basis: Basis
    statement: str = ""  # where and how consent was obtained (required for the consent basis)
    values: dict[str, str] = field(default_factory=dict)  # ordinary custom fields by key


@dataclass
class Added:
    """The new contact and what happened per list."""

    contact: Contact
    granted: list[MailingList]
    invited: bool


def _checked(new: NewContact) -> tuple[str, str, str]:
    try:
        email = normalise_email(new.email)
    except AddressError as exc:
        raise ContactRefused(str(exc), "email") from None
    try:
        name = clean_name(new.name)
    except TextRefused as exc:
        raise ContactRefused(str(exc), "name") from None
    if not new.lists:
        raise ContactRefused("Choose at least one list for the contact.", "lists")
    return email, name, checked_basis(new.basis, new.statement)


def checked_basis(basis: str, statement: str) -> str:
    """Staff adding people to a list say on what basis (ContactRefused when not): a double opt-in, or consent
    obtained elsewhere with a statement of where and how, returned cleaned (it is stored as the proof)."""
    if basis not in MANUAL_BASES:
        raise ContactRefused("Choose how the person agreed to receive mail.", "basis")
    statement = " ".join((statement or "").split())
    if basis == Basis.PRIOR_CONSENT and len(statement) < MIN_STATEMENT_LENGTH:
        raise ContactRefused(
            "Say where and how the person consented (at least 20 characters): it is stored as the proof.",
            "statement",
        )
    return statement[:MAX_STATEMENT_LENGTH] if basis == Basis.PRIOR_CONSENT else ""


def add_contact(
    new: NewContact, actor: object, ip: str | None = None, source: str = "admin", via: dict | None = None
) -> Added:
    """Create the contact, subscribe it to the lists on the chosen basis (one ledger event per list), store
    its ordinary fields, audit the addition, commit, then queue the double opt-in email if one is due.

    A known address raises ContactExists (naming the contact); a suppressed one is refused: only the person
    can bring it back, by signing up again. `source` is the door ("admin", or "api:<key prefix>" with `via`
    in the audit details when an integration adds the contact).
    """
    email, name, statement = _checked(new)
    existing = find_contact_by_email(email)
    if existing is not None:
        raise ContactExists(existing)
    if is_suppressed(email_hash(email)):
        raise ContactRefused(
            "This address is on the suppression list (it unsubscribed from everything, bounced, complained "
            "or was erased): only the person can come back, by signing up again.",
            "email",
        )
    cleaned: list[tuple[ContactField, str]] = []
    for key, raw in new.values.items():
        definition = contact_fields.field_by_key(key)
        if definition is None or not definition.active or definition.is_sensitive:
            raise ContactRefused(
                "One of the fields cannot be set here. Please reload the page.", f"fields.{key}"
            )
        try:
            cleaned.append((definition, contact_fields.clean_value(definition, raw)))
        except PrivacyError as exc:
            raise ContactRefused(str(exc), f"fields.{key}") from None
    ctx = RequestContext(source=source, ip=ip)
    contact, created = get_or_create_contact(email, source=source, name=name or None)
    if not created:  # a concurrent addition of the same address won the race
        db.session.rollback()
        raise ContactExists(contact)
    details = {"added_by": "staff" if via is None else "integration"}
    if new.basis == Basis.PRIOR_CONSENT:
        details["statement"] = statement
    door = Door(ctx, source, new.basis, details=details, by_person=False)
    result = subscribe(contact, [lst.purpose for lst in new.lists], door)
    for definition, value in cleaned:
        contact_fields.set_value(contact, definition, value)
    audit.record(
        "contact.add",
        "contact",
        contact.public_id,
        {
            "lists": [lst.public_id for lst in new.lists],
            "basis": new.basis.value,
            "fields_set": sorted(d.key for d, v in cleaned if v),
            **(via or {}),
        },
        actor=actor,
        ip=ip,
    )
    db.session.commit()
    invited = result.needs_confirmation and request_confirmation_email(contact)
    granted_purposes = {p.id for p in result.purposes(Outcome.GRANTED)}
    granted = [lst for lst in new.lists if lst.purpose.id in granted_purposes]
    return Added(contact, granted, bool(invited))
