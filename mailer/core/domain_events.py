"""Things that happened which integrations may want to hear about, announced by the domain that made them.

A domain calls `emit()` in the transaction of the change itself, with the connection it writes on; whatever
the app factory connected (the outgoing webhooks' outbox) writes its rows on that same connection, so the
event commits or rolls back with the change that caused it. Domains sit below webhooks in the layers and
never import them; nothing connected (a script without the factory) means nothing is recorded.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mailer.core.clock import utcnow


@dataclass(frozen=True)
class DomainEvent:
    """One event: its type (`subscription.confirmed` …), the contact it concerns (row id) and ids only.

    `refs` holds row ids (purpose_id, campaign_id, journey_id, step_id …) and plain facts (an action, a
    bounce class); never names, addresses or other personal data: the receiver's payload is built from them
    when it is sent, with personal data only for endpoints declared as processors.
    """

    type: str
    contact_id: int | None = None
    refs: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime = field(default_factory=utcnow)


# (connection of the caller's transaction, events) -> None
Listener = Callable[[Any, Sequence[DomainEvent]], None]

_listeners: list[Listener] = []


def connect(listener: Listener) -> None:
    """Connect the one listener (the app factory does, once per process; again replaces it)."""
    _listeners[:] = [listener]


def emit(connection: Any, events: Sequence[DomainEvent]) -> None:
    """Announce events in the caller's transaction (the listener writes on `connection`; caller commits)."""
    if not events:
        return
    for listener in _listeners:
        listener(connection, events)
