"""Contacts: address normalisation, the blind-index lookup, creation and search."""

import contextlib
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError

from mailer.contacts.models.contact import Contact
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.security import keyed_hash
from mailer.core.text import TextRefused, one_line

MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 200


class AddressError(ValueError):
    """The address cannot be used; the message is safe to show to the person who typed it."""


def normalise_email(raw: str) -> str:
    """Validate an address's syntax and return it in the one form the blind index uses (lower case)."""
    raw = (raw or "").strip()
    if not raw:
        raise AddressError("Please enter your email address.")
    if len(raw) > MAX_EMAIL_LENGTH:
        raise AddressError("That email address is too long.")
    try:
        result = validate_email(raw, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        raise AddressError(
            "That doesn't look like an email address. Please check it and try again."
        ) from None
    return result.normalized.lower()


def clean_name(raw: str | None) -> str:
    """A person's name as stored, from any door: one line, spaces collapsed, no control characters (it reaches
    the To: header), at most MAX_NAME_LENGTH characters; TextRefused with a message for the person
    otherwise."""
    name = one_line(raw, "The name")
    if len(name) > MAX_NAME_LENGTH:
        raise TextRefused(f"The name is too long ({MAX_NAME_LENGTH} characters at most).")
    return name


def email_hash(normalised_email: str) -> str:
    """Keyed blind index of a normalised address."""
    return keyed_hash("email:" + normalised_email)


def find_contact_by_email(normalised_email: str) -> Contact | None:
    """The contact with this address, found without storing or comparing the address in clear."""
    query = select(Contact).where(Contact.email_hash == email_hash(normalised_email))
    return db.session.execute(query).scalar_one_or_none()


def get_or_create_contact(
    normalised_email: str, source: str, name: str | None = None
) -> tuple[Contact, bool]:
    """Find or create the contact for an address; safe against a concurrent insert of the same address."""
    contact = find_contact_by_email(normalised_email)
    if contact is not None:
        return contact, False
    contact = Contact(
        email=normalised_email,
        email_hash=email_hash(normalised_email),
        name=name or None,
        source=source,
        attributes={},
    )
    try:
        with db.session.begin_nested():
            db.session.add(contact)
    except IntegrityError:
        existing = find_contact_by_email(normalised_email)
        if existing is None:
            raise
        return existing, False
    return contact, True


def touch(contact: Contact) -> None:
    """Record that the contact interacted with us (used by retention of inactive contacts)."""
    contact.last_activity_at = utcnow()


@dataclass
class ContactPage:
    """One page of a contact search."""

    items: list[Contact]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search_contacts(
    q: str = "", among: Select | None = None, status: str = "", page: int = 1, per_page: int = 50
) -> ContactPage:
    """Contacts matching an address (exact, via the blind index) or part of a name, newest first; `among`
    (a query of contact ids, such as a list's subscribers) narrows the search."""
    query = select(Contact)
    q = (q or "").strip()[:200]
    if q:
        conditions = [Contact.name.ilike(f"%{q}%"), Contact.public_id == q]
        if "@" in q:
            with contextlib.suppress(AddressError):
                conditions.append(Contact.email_hash == email_hash(normalise_email(q)))
        query = query.where(or_(*conditions))
    if among is not None:
        query = query.where(Contact.id.in_(among))
    if status:
        query = query.where(Contact.status == status)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    page = max(1, page)
    items = (
        db.session.execute(query.order_by(Contact.id.desc()).limit(per_page).offset((page - 1) * per_page))
        .scalars()
        .all()
    )
    return ContactPage(list(items), total, page, per_page)
