"""Bare contacts for tests that act on contacts themselves (no list, no consent): p000@example.com, ..."""

from mailer.contacts.models.contact import Contact
from mailer.contacts.operations import email_hash
from mailer.core.extensions import db


def bare_contacts(n: int) -> list[Contact]:
    """`n` active contacts, committed, oldest first."""
    made = []
    for i in range(n):
        address = f"p{i:03d}@example.com"
        contact = Contact(email=address, email_hash=email_hash(address), attributes={})
        db.session.add(contact)
        made.append(contact)
    db.session.commit()
    return made
