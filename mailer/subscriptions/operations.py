"""Subscribing, the one rule every door uses: the embed form, the API, the CSV import, the preference centre.

What differs between the doors is a parameter (`Door`): where the request came from, on what basis (double
opt-in, an address already proven, or consent obtained elsewhere and stated by staff), the notice shown and
the details recorded. The rest is the same everywhere: one ledger event per change, a suppressed address comes
back only through a fresh double opt-in (REQUIREMENTS J4), staff never bring back someone who left a list, and
the confirmation email is capped per address and per domain (J2).
"""

import enum
from dataclasses import dataclass, field, replace

from flask import current_app
from sqlalchemy import select

from mailer.consent.ledger import RequestContext, consent_status, record_consent
from mailer.consent.models import DIRECT_MARKETING_KEY, Notice, Purpose
from mailer.consent.notices import publish_notice
from mailer.contacts import fields as contact_fields
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.models.fields import ContactField
from mailer.contacts.operations import email_hash, get_or_create_contact
from mailer.contacts.suppression import is_suppressed
from mailer.core.broker import enqueue
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.subscriptions import hooks, throttle
from mailer.subscriptions.models.lists import Subscription, SubscriptionStatus


class Basis(enum.StrEnum):
    """Why a subscription may start: the person confirms by email, or it is already proven."""

    DOUBLE_OPT_IN = "double_opt_in"  # forms, API, invited imports: pending until the emailed link is used
    VERIFIED = "verified"  # a signed preference-centre link proves the address: granted at once
    PRIOR_CONSENT = "has_consent"  # staff state where and how consent was given elsewhere (imports)


class Outcome(enum.StrEnum):
    """What subscribe() did for one purpose."""

    REQUESTED = "requested"  # pending until confirmed by email
    GRANTED = "granted"  # subscribed at once
    ALREADY = "already"  # nothing to change: already subscribed and consent granted
    ASKED = "asked"  # staff only: the person was already asked and has not answered yet
    OPTED_OUT = "opted_out"  # the person left (this list, or everything); only they can bring themself back


@dataclass(frozen=True)
class Door:
    """How a request reached us: the parameters that differ between doors."""

    ctx: RequestContext
    source: str  # recorded on new subscriptions: "form", "api:<key>", "import:<id>", "preference-centre"
    basis: Basis = Basis.DOUBLE_OPT_IN
    notice: Notice | None = None  # the words the person was shown
    details: dict = field(default_factory=dict)
    by_person: bool = True  # False: staff acting for people (imports), who never override an opt-out


@dataclass
class Subscribed:
    """The outcome per purpose of one subscribe() call."""

    outcomes: list[tuple[Purpose, Outcome]] = field(default_factory=list)

    def purposes(self, outcome: Outcome) -> list[Purpose]:
        """The purposes that ended with this outcome."""
        return [purpose for purpose, got in self.outcomes if got == outcome]

    @property
    def needs_confirmation(self) -> bool:
        """Whether a confirmation email is due (after the caller's commit)."""
        return bool(self.purposes(Outcome.REQUESTED))


def subscribe(contact: Contact, purposes: list[Purpose], door: Door) -> Subscribed:
    """Ask for (double opt-in) or grant each purpose, one ledger event per change; the caller commits.

    A purpose is a list's purpose or another use (tracking, direct marketing). Nothing is written for a
    purpose already granted on a confirmed subscription. A suppressed address (unsubscribed from everything)
    is asked again by email even for a list it is confirmed on.
    """
    address = contact.email_hash
    suppressed = address is not None and is_suppressed(address)
    basis = Basis.DOUBLE_OPT_IN if suppressed else door.basis
    result = Subscribed()
    if suppressed and not door.by_person:
        result.outcomes = [(purpose, Outcome.OPTED_OUT) for purpose in purposes]
        return result
    for purpose in purposes:
        result.outcomes.append((purpose, _subscribe_one(contact, purpose, door, basis, suppressed)))
    return result


def unchanged_outcome(
    sub_status: str | None, state: str | None, basis: Basis, by_person: bool, is_list: bool, suppressed: bool
) -> Outcome | None:
    """The outcome when nothing is to be written for a purpose (a list's subscription in `sub_status`, None
    when there is none; the purpose's consent `state`), else None. subscribe() and the bulk CSV import
    (subscriptions/import_batch.py) decide by this one rule."""
    if sub_status is not None and not by_person:
        if sub_status == SubscriptionStatus.UNSUBSCRIBED:
            return Outcome.OPTED_OUT
        if sub_status == SubscriptionStatus.PENDING and basis == Basis.DOUBLE_OPT_IN:
            return Outcome.ASKED
    subscribed = not is_list or sub_status == SubscriptionStatus.CONFIRMED
    if subscribed and state == "granted" and not suppressed:
        return Outcome.ALREADY
    return None


def _subscribe_one(contact: Contact, purpose: Purpose, door: Door, basis: Basis, suppressed: bool) -> Outcome:
    state = consent_status(contact, purpose)
    sub = _subscription(contact, purpose.list_id) if purpose.list_id is not None else None
    unchanged = unchanged_outcome(
        sub.status if sub is not None else None,
        state,
        basis,
        door.by_person,
        purpose.list_id is not None,
        suppressed,
    )
    if unchanged is not None:
        return unchanged
    granted = basis != Basis.DOUBLE_OPT_IN
    if purpose.list_id is not None:
        sub = sub or _new_subscription(contact, purpose.list_id, door.source)
        now = utcnow()
        sub.requested_at, sub.unsubscribed_at = now, None
        sub.status = SubscriptionStatus.CONFIRMED if granted else SubscriptionStatus.PENDING
        if granted:
            sub.confirmed_at = now
            hooks.subscription_confirmed(contact.id, [purpose.list_id])
    if granted and state == "objected" and purpose.key == DIRECT_MARKETING_KEY:
        # Asking for direct marketing again is the person's fresh explicit action: it lifts the objection,
        # recorded as the privacy domain records every lift.
        hooks.marketing_requested(contact, door.ctx, door.source, notice=door.notice)
    else:
        details = {**door.details, **({"lifts": "objection"} if state == "objected" else {})}
        action = "granted" if granted else "requested"
        record_consent(contact, purpose, action, door.ctx, notice=door.notice, details=details)
    return Outcome.GRANTED if granted else Outcome.REQUESTED


def _subscription(contact: Contact, list_id: int) -> Subscription | None:
    query = select(Subscription).where(Subscription.contact_id == contact.id, Subscription.list_id == list_id)
    return db.session.execute(query).scalar_one_or_none()


def _new_subscription(contact: Contact, list_id: int, source: str) -> Subscription:
    sub = Subscription(contact_id=contact.id, list_id=list_id, source=source)
    db.session.add(sub)
    return sub


def sign_up(
    email: str,
    name: str,
    purposes: list[Purpose],
    door: Door,
    values: list[tuple[ContactField, str]] | None = None,
    publish: tuple[str, dict] | None = None,
    language: str | None = None,
) -> None:
    """A person's own sign-up (form, API): checked input in, pending subscriptions and the confirmation email
    out.

    Says nothing about whether the address was known: restricted and erased contacts are left untouched and an
    address over its sign-up budget (shared by every door) is silently dropped, with the same answer.
    `publish` is the wording an integration says the person was shown, stored as a notice version (key,
    content). `language` is the one the person signed up in: it becomes the contact's unless a confirmed
    subscriber chose theirs already (anyone can type someone else's address).
    """
    if not throttle.allow(
        current_app.config["SIGNUP_RATE_LIMIT_ADDRESS"], "signup-address", email_hash(email)
    ):
        return
    contact, _ = get_or_create_contact(email, source=door.ctx.source, name=name or None)
    if contact.status != ContactStatus.ACTIVE:
        db.session.rollback()
        return  # restricted (Art. 18) or erased contacts are not processed; the answer stays the same
    if name and not contact.name:
        contact.name = name
    if language and (contact.language is None or not _has_confirmed(contact)):
        contact.language = language
    if publish is not None:
        door = replace(door, notice=publish_notice(*publish))
    result = subscribe(contact, purposes, door)
    store_field_values(contact, values or [])
    db.session.commit()
    if result.needs_confirmation:
        request_confirmation_email(contact)


def _has_confirmed(contact: Contact) -> bool:
    return any(sub.status == SubscriptionStatus.CONFIRMED for sub in contact.subscriptions)


def store_field_values(contact: Contact, values: list[tuple[ContactField, str]]) -> None:
    """Keep what a sign-up collected: it fills empty fields, but an address not yet proven by double opt-in
    cannot overwrite what a confirmed subscriber has stored (anyone can type someone else's address into a
    form)."""
    confirmed = _has_confirmed(contact)
    for custom, value in values:
        if confirmed and contact_fields.has_value(contact, custom):
            continue
        contact_fields.set_value(contact, custom, value, consent_pending_ok=True)


def request_confirmation_email(contact: Contact, per_domain: bool = True) -> bool:
    """Queue (after the caller's commit) a confirmation email unless this address or its domain hit their caps
    (list-bombing defence). `per_domain=False` for the people staff imported (imports.send_invitations, paced
    by the global send rate instead)."""
    domain = (contact.email or "").rpartition("@")[2]
    config = current_app.config
    caps = [(config["CONFIRM_EMAIL_PER_ADDRESS"], ("confirm-address", contact.email_hash or ""))]
    if per_domain:
        caps.append((config["CONFIRM_EMAIL_PER_DOMAIN"], ("confirm-domain", domain)))
    if not throttle.allow_all(*caps):
        return False
    enqueue("send_confirmation_email", contact.id)
    return True
