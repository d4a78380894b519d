"""What higher domains do when something happens to a subscription, connected by the app factory.

Subscriptions sits below privacy in the layers, so it cannot call privacy's operations; the factory connects
them here instead (no import upwards, no import side effects). Unconnected, a hook does nothing.
"""

from collections.abc import Callable
from typing import Any

from mailer.consent.ledger import RequestContext
from mailer.contacts.models.contact import Contact

# The person asked for marketing again by a fresh, explicit action (`way`: "double-opt-in" or
# "preference-centre"): an objection to direct marketing (Art. 21) ends. Returns True when one was lifted.
MarketingRequested = Callable[..., bool]
# A sign-up was never confirmed and the contact keeps nothing else: its personal data goes.
SignupAbandoned = Callable[[Contact], None]
# A contact's subscriptions to these lists were just confirmed (double opt-in, or granted at once); runs in
# the confirming transaction (journeys enrol them).
SubscriptionConfirmed = Callable[[int, list[int]], None]

_connected: dict[str, Any] = {}


def connect(
    *,
    marketing_requested: MarketingRequested,
    signup_abandoned: SignupAbandoned,
    subscription_confirmed: SubscriptionConfirmed | None = None,
) -> None:
    """Connect the hooks (the app factory does, once per process; connecting again replaces them)."""
    _connected.update(
        marketing_requested=marketing_requested,
        signup_abandoned=signup_abandoned,
        subscription_confirmed=subscription_confirmed,
    )


def marketing_requested(contact: Contact, ctx: RequestContext, way: str, notice=None) -> bool:
    """The person wants marketing again; True when an objection was lifted (and recorded in the ledger)."""
    hook = _connected.get("marketing_requested")
    return bool(hook is not None and hook(contact, ctx, way, notice=notice))


def signup_abandoned(contact: Contact) -> None:
    """An unconfirmed sign-up expired and left the contact with nothing: anonymise it."""
    hook = _connected.get("signup_abandoned")
    if hook is None:
        raise RuntimeError("no erasure connected for abandoned sign-ups (the app factory connects it)")
    hook(contact)


def subscription_confirmed(contact_id: int, list_ids: list[int]) -> None:
    """Subscriptions were confirmed (in the current transaction): what starts on that starts."""
    hook = _connected.get("subscription_confirmed")
    if hook is not None and list_ids:
        hook(contact_id, list_ids)
