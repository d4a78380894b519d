"""What the delivery engine needs from deliverability, connected by the app factory.

A relay's permanent refusal at send time (a 5xx at RCPT or DATA) is a bounce like a DSN that arrives later:
the same classification, a row in the bounce log (so it counts toward the sending domain's bounce rate) and
the same suppression rule. Deliverability keeps that log and sits above delivery, so the factory connects its
recorder here. Not connected (a process that never ran the factory), the engine still suppresses an address
refused for good, as it did before the log knew of such refusals.
"""

from collections.abc import Callable
from dataclasses import dataclass

from mailer.contacts.models.suppression import SuppressionReason
from mailer.contacts.suppression import suppress


@dataclass(frozen=True)
class Refusal:
    """A final refusal of one delivery by the relay: its SMTP code and words, and the address's hash."""

    delivery_id: int
    code: int | None
    text: str
    email_hash: str | None
    hard: bool  # a permanent refusal of the address (not 5.7.x, our setup)


Refused = Callable[[list[Refusal]], None]

_connected: dict[str, Refused] = {}


def connect(*, refused: Refused) -> None:
    """Connect deliverability's recorder (the app factory does, once per process; again replaces it)."""
    _connected.update(refused=refused)


def refused(refusals: list[Refusal]) -> None:
    """Record the refusals of one write of delivery outcomes, in its transaction (the caller commits)."""
    if not refusals:
        return
    hook = _connected.get("refused")
    if hook is not None:
        hook(refusals)
        return
    for refusal in refusals:
        if refusal.hard and refusal.email_hash:
            suppress(refusal.email_hash, SuppressionReason.HARD_BOUNCE)
