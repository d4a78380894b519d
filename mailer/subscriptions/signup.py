"""Double opt-in: sign-up from a form, confirmation by the emailed link, fresh links (REQUIREMENTS G, J)."""

import time
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import gettext
from sqlalchemy import select

from mailer.consent.ledger import RequestContext, record_consent
from mailer.consent.models import ConsentEvent, ConsentState, Purpose
from mailer.contacts import fields as field_service
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.models.fields import ContactField
from mailer.contacts.operations import AddressError, clean_name, email_hash, normalise_email, touch
from mailer.contacts.suppression import lift_suppression
from mailer.core.broker import enqueue
from mailer.core.clock import utcnow
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.core.security import TokenExpired, TokenInvalid, make_token, read_token
from mailer.core.text import TextRefused
from mailer.core.urls import preferences_url
from mailer.subscriptions import hooks
from mailer.subscriptions.forms import (
    Wording,
    asked_fields,
    field_input_name,
    offered_purposes,
    shown_language,
    wording_for,
)
from mailer.subscriptions.models.forms import Form
from mailer.subscriptions.models.lists import Subscription, SubscriptionStatus
from mailer.subscriptions.operations import Door, request_confirmation_email, sign_up


class SignupError(ValueError):
    """The submission cannot be accepted; the message tells the person what to fix."""

    def __init__(self, message: str, field_name: str = ""):
        super().__init__(message)
        self.field_name = field_name


@dataclass
class SignupInput:
    """What a person submitted on a form."""

    email: str = ""
    name: str = ""
    consents: list[str] = field(default_factory=list)
    age_confirmed: bool = False
    honeypot: str = ""
    started_token: str = ""
    fields: dict[str, str] = field(default_factory=dict)  # custom field key → what was typed


def form_started_token() -> str:
    """Signed timestamp put into every rendered form, to measure how long filling it took."""
    return make_token("form-ts", int(time.time()))


def screen_submission(inp: SignupInput) -> str:
    """Bot signals: 'bot' (honeypot filled), 'too_fast' / 'no_timer' (fill time unknown or too short), or
    'ok'."""
    if inp.honeypot.strip():
        return "bot"
    try:
        started = read_token(
            "form-ts", inp.started_token, max_age=current_app.config["SIGNUP_MAX_FILL_SECONDS"]
        )
    except (TokenInvalid, TokenExpired):
        return "no_timer"
    if not isinstance(started, int) or time.time() - started < current_app.config["SIGNUP_MIN_FILL_SECONDS"]:
        return "too_fast"
    return "ok"


def _chosen_purposes(form: Form, inp: SignupInput) -> list[Purpose]:
    """The purposes whose checkbox was explicitly ticked; refuse unknown values and a sign-up with no list."""
    offered = {p.public_id: p for p in offered_purposes(form)}
    if len(inp.consents) > len(offered) or any(value not in offered for value in inp.consents):
        raise SignupError(
            gettext("One of the choices is not on this form. Please reload the page and try again."),
            "consent",
        )
    chosen = [offered[value] for value in dict.fromkeys(inp.consents)]
    if not any(p.kind == "list" for p in chosen):
        raise SignupError(gettext("Please tick the box for what you would like to receive."), "consent")
    return chosen


def _field_values(
    form: Form, inp: SignupInput, chosen: list[Purpose], wording: Wording
) -> list[tuple[ContactField, str]]:
    """The custom fields filled in, checked; a sensitive value only with its explicit-consent box ticked."""
    ticked = {p.id for p in chosen}
    values = []
    for asked in asked_fields(form):
        custom, label, input_name = asked.field, wording.field_label(asked), field_input_name(asked.field)
        try:
            value = field_service.clean_value(custom, inp.fields.get(custom.key, ""), label)
        except PrivacyError as exc:
            raise SignupError(str(exc), input_name) from None
        if not value:
            if asked.required:
                raise SignupError(gettext("Please fill in “%(label)s”.", label=label), input_name)
            continue
        if custom.is_sensitive and custom.purpose_id not in ticked:
            raise SignupError(
                gettext(
                    "We can only store your answer to “%(label)s” with your explicit consent: tick the box "
                    "under it, or leave it empty.",
                    label=label,
                ),
                input_name,
            )
        values.append((custom, value))
    return values


def validate_signup(
    form: Form, inp: SignupInput, language: str | None = None
) -> tuple[str, str, list[Purpose], list[tuple[ContactField, str]]]:
    """Check a submission completely before anything is written (naming fields as the form did in
    `language`); return address, name, purposes, field values."""
    try:
        email = normalise_email(inp.email)
    except AddressError as exc:
        raise SignupError(str(exc), "email") from None
    try:
        name = clean_name(inp.name)
    except TextRefused as exc:
        raise SignupError(str(exc), "name") from None
    if form.require_name and not name:
        raise SignupError(gettext("Please enter your name."), "name")
    chosen = _chosen_purposes(form, inp)
    values = _field_values(form, inp, chosen, wording_for(form, language or form_language(form)))
    if form.min_age and not inp.age_confirmed:
        raise SignupError(
            gettext("Please confirm that you are at least %(age)d years old.", age=form.min_age), "age"
        )
    # Agreeing to store a sensitive answer that was left empty stores nothing, so it is not recorded either.
    filled = {custom.purpose_id for custom, _ in values if custom.is_sensitive}
    unused = {f.purpose_id for f in (a.field for a in asked_fields(form)) if f.is_sensitive} - filled
    return email, name, [p for p in chosen if p.id not in unused], values


def submit_form(form: Form, inp: SignupInput, ctx: RequestContext, language: str | None = None) -> None:
    """Sign a person up from a form (checked again here) in the language it was shown in: pending until
    confirmed; silent about the address."""
    language = language or form_language(form)
    email, name, chosen, values = validate_signup(form, inp, language)
    # The ledger records the language version of the wording that was shown: its notice and its language.
    notice = wording_for(form, language).notice
    door = Door(ctx, "form", notice=notice, details={"form": form.slug, "language": language})
    sign_up(email, name, chosen, door, values, language=language)


def form_language(form: Form, requested: str | None = None) -> str:
    """The language a form speaks to this visitor (see forms.shown_language)."""
    return shown_language(form, requested)


def pending_subscriptions(contact: Contact) -> list[Subscription]:
    """Subscriptions of a contact still awaiting double opt-in."""
    query = select(Subscription).where(
        Subscription.contact_id == contact.id, Subscription.status == SubscriptionStatus.PENDING
    )
    return list(db.session.execute(query).scalars())


def pending_purposes(contact: Contact) -> list[Purpose]:
    """Purposes a contact ticked but has not yet confirmed."""
    query = (
        select(Purpose)
        .join(ConsentState, ConsentState.purpose_id == Purpose.id)
        .where(ConsentState.contact_id == contact.id, ConsentState.status == "pending")
    )
    return list(db.session.execute(query).scalars())


def signup_form_of(contact: Contact) -> Form | None:
    """The form of the contact's latest sign-up (named in its ledger's `requested` events), unless deleted."""
    query = (
        select(ConsentEvent.details)
        .where(ConsentEvent.contact_id == contact.id, ConsentEvent.action == "requested")
        .order_by(ConsentEvent.id.desc())
        .limit(50)
    )
    slug = next((d["form"] for d in db.session.execute(query).scalars() if (d or {}).get("form")), None)
    if slug is None:
        return None
    form = db.session.execute(select(Form).where(Form.slug == slug)).scalar_one_or_none()
    return form if form is not None and form.deleted_at is None else None


def confirmation_token(contact: Contact) -> str:
    """Signed, expiring token naming the contact by its public id only."""
    return make_token("confirm", contact.public_id)


@dataclass
class ConfirmOutcome:
    """What happened when someone used a confirmation link."""

    status: str  # confirmed | already | expired | invalid
    list_names: list[str] = field(default_factory=list)
    resend_token: str = ""
    language: str | None = None  # the person's, when the link names a contact
    preferences_url: str = ""  # once confirmed: where to see or change the choices
    next_url: str = ""  # once confirmed: the form's "after confirmation" page, if staff set one


def _contact_from_confirm_token(token: str) -> Contact | ConfirmOutcome:
    """Resolve a confirmation token to an active contact, or an outcome explaining why not."""
    try:
        public_id = read_token("confirm", token, max_age=current_app.config["CONFIRM_TOKEN_MAX_AGE"])
    except TokenExpired as exc:
        resend = make_token("resend", exc.payload) if isinstance(exc.payload, str) else ""
        return ConfirmOutcome("expired", resend_token=resend)
    except TokenInvalid:
        return ConfirmOutcome("invalid")
    contact = db.session.execute(select(Contact).where(Contact.public_id == public_id)).scalar_one_or_none()
    if contact is None or contact.status != ContactStatus.ACTIVE or not isinstance(public_id, str):
        return ConfirmOutcome("invalid")
    return contact


def check_confirmation(token: str) -> ConfirmOutcome:
    """Inspect a confirmation link without changing anything (GET must be safe: G2)."""
    contact = _contact_from_confirm_token(token)
    if isinstance(contact, ConfirmOutcome):
        return contact
    names = [s.mailing_list.name for s in pending_subscriptions(contact)]
    status = "pending" if names or pending_purposes(contact) else "already"
    return ConfirmOutcome(status, names, language=contact.language)


def confirm(token: str, ctx: RequestContext) -> ConfirmOutcome:
    """Complete double opt-in: every pending subscription and purpose of the contact becomes confirmed."""
    contact = _contact_from_confirm_token(token)
    if isinstance(contact, ConfirmOutcome):
        return contact
    subs = pending_subscriptions(contact)
    purposes = pending_purposes(contact)
    if not subs and not purposes:
        return ConfirmOutcome("already", language=contact.language)
    now = utcnow()
    for sub in subs:
        sub.status, sub.confirmed_at = SubscriptionStatus.CONFIRMED, now
    for purpose in purposes:
        record_consent(contact, purpose, "confirmed", ctx)
    if subs:  # subscribing again and confirming by email is the person's own fresh request for marketing
        hooks.marketing_requested(contact, ctx, "double-opt-in")
    if contact.email_hash:
        lift_suppression(contact.email_hash)
    touch(contact)
    hooks.subscription_confirmed(contact.id, [s.list_id for s in subs])
    form = signup_form_of(contact)
    outcome = ConfirmOutcome(
        "confirmed",
        [s.mailing_list.name for s in subs],
        language=contact.language,
        preferences_url=preferences_url(contact.public_id),
        next_url=form.after_confirm_url if form is not None else "",
    )
    db.session.commit()
    return outcome


def resend_from_token(resend_token: str) -> None:
    """Send a fresh confirmation email for an expired link (subject to the usual caps)."""
    try:
        public_id = read_token("resend", resend_token, max_age=30 * 24 * 3600)
    except (TokenExpired, TokenInvalid):
        return
    contact = db.session.execute(select(Contact).where(Contact.public_id == public_id)).scalar_one_or_none()
    if (
        contact is not None
        and contact.status == ContactStatus.ACTIVE
        and (pending_subscriptions(contact) or pending_purposes(contact))
    ):
        request_confirmation_email(contact)


def resend_for_address(raw_email: str) -> None:
    """Check the address and queue the resend: the lookup happens in a worker, so neither the answer nor its
    time says whether the address is known (no enumeration). Only its keyed hash goes through the broker."""
    try:
        email = normalise_email(raw_email)
    except AddressError as exc:
        raise SignupError(str(exc), "email") from None
    enqueue("resend_confirmation", email_hash(email))


def resend_for_hash(address_hash: str) -> None:
    """Send a fresh confirmation email if this address (by its keyed hash) has pending sign-ups; else
    nothing."""
    contact = db.session.execute(
        select(Contact).where(Contact.email_hash == address_hash)
    ).scalar_one_or_none()
    if (
        contact is not None
        and contact.status == ContactStatus.ACTIVE
        and (pending_subscriptions(contact) or pending_purposes(contact))
    ):
        request_confirmation_email(contact)
