"""What contact fields need from consent, connected by the app factory.

A sensitive field is stored only under its own explicit-consent purpose (Art. 9(2)(a)). Contacts sits below
consent in the layers, so it cannot import consent's purposes, ledger or notices; the factory connects them
here instead (no import upwards, no import side effects).
"""

from collections.abc import Callable
from typing import Any, Protocol

from mailer.contacts.models.contact import Contact


class PurposeRef(Protocol):
    """What fields read of a consent purpose."""

    @property
    def id(self) -> int: ...


# (field key, label) -> a new, unsaved explicit-consent purpose for that sensitive field.
NewPurpose = Callable[[str, str], Any]
# (contact, purpose) -> the contact's current answer: pending, granted, withdrawn, objected, expired or None.
ConsentStatus = Callable[[Contact, Any], str | None]
# (notice key, content) -> the immutable notice with exactly those words (published when they changed).
PublishNotice = Callable[[str, dict], Any]

# (contact id, tag id): a tag was just put on a contact, in the current transaction (journeys enrol them).
TagAdded = Callable[[int, int], None]

_connected: dict[str, Any] = {}


def connect(*, new_purpose: NewPurpose, consent_status: ConsentStatus, publish_notice: PublishNotice) -> None:
    """Connect consent's operations (the app factory does, once per process; again replaces them)."""
    _connected.update(new_purpose=new_purpose, consent_status=consent_status, publish_notice=publish_notice)


def _hook(name: str) -> Any:
    hook = _connected.get(name)
    if hook is None:
        raise RuntimeError(f"consent's {name} is not connected (the app factory connects it)")
    return hook


def new_purpose(key: str, label: str) -> Any:
    """A new explicit-consent purpose for a sensitive field."""
    return _hook("new_purpose")(key, label)


def consent_status(contact: Contact, purpose: Any) -> str | None:
    """The contact's current answer for a purpose."""
    return _hook("consent_status")(contact, purpose)


def publish_notice(key: str, content: dict) -> Any:
    """The immutable notice with these words."""
    return _hook("publish_notice")(key, content)


def connect_tag_added(tag_added: TagAdded) -> None:
    """Connect what starts when a tag is put on a contact (the app factory does)."""
    _connected["tag_added"] = tag_added


def tag_added(contact_id: int, tag_id: int) -> None:
    """A tag was put on a contact."""
    hook = _connected.get("tag_added")
    if hook is not None:
        hook(contact_id, tag_id)
