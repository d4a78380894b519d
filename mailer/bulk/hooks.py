"""What bulk actions need from privacy, connected by the app factory.

Erasure lives in mailer.privacy, above bulk (it anonymises every domain's data), so a bulk erasure cannot
import it; the factory connects privacy's staff erasure here instead.
"""

from collections.abc import Callable
from typing import Any

from mailer.contacts.models.contact import Contact

# (contact, the staff member who started the job or None, reason=the stated reason); the caller commits.
Erase = Callable[..., Any]

_connected: dict[str, Any] = {}


def connect(*, erase: Erase) -> None:
    """Connect privacy's erasure (the app factory does, once per process; again replaces it)."""
    _connected.update(erase=erase)


def erase(contact: Contact, actor: Any, reason: str) -> None:
    """Erase one contact exactly as the contact page's Erase does."""
    hook = _connected.get("erase")
    if hook is None:
        raise RuntimeError("privacy's erasure is not connected (the app factory connects it)")
    hook(contact, actor, reason=reason)
