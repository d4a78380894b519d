"""`contact.updated`: noticed at flush time for every change of a contact's own data, by any door.

A contact's name, address, language, attributes and custom field values are edited from many places (the
contact page, the preference centre, the API, rectification requests, a confirmed address change). Rather
than a call in each, a session listener (connected by the app factory) looks at what a flush writes and
records one event per changed contact on the flush's own connection, inside the same transaction. Erasure is
left out: it is announced as `contact.erased` (from the ledger), never as an update carrying what changed.
"""

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.models.fields import ContactFieldValue
from mailer.core.domain_events import DomainEvent
from mailer.webhooks.outbox import write_events

WATCHED = ("name", "email", "language", "attributes")


def _changed(contact: Contact) -> list[str]:
    state = inspect(contact)
    return [name for name in WATCHED if state.attrs[name].history.has_changes()]


def _after_flush(session: Session, _context) -> None:
    """One `contact.updated` per contact whose own data this flush changed (names of what, never values)."""
    changes: dict[int, set[str]] = {}
    for instance in session.dirty:
        if isinstance(instance, Contact) and instance.status == ContactStatus.ACTIVE:
            changed = _changed(instance)
            if changed:
                changes.setdefault(instance.id, set()).update(changed)
    for instance in (*session.new, *session.dirty, *session.deleted):
        if isinstance(instance, ContactFieldValue):
            changes.setdefault(instance.contact_id, set()).add("fields")
    if not changes:
        return
    events = [
        DomainEvent("contact.updated", contact_id, {"fields": sorted(names)})
        for contact_id, names in sorted(changes.items())
    ]
    write_events(session.connection(), events)


def listen() -> None:
    """Connect the listener to every session (the app factory does; connecting twice is a no-op)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
