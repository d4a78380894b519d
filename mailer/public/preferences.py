"""The preference centre (/p/<token>) and the form that emails a fresh link (/p)."""

from flask import current_app, render_template, request
from sqlalchemy import select

from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.core import i18n
from mailer.core.errors import PrivacyError
from mailer.core.extensions import csrf, db, limiter
from mailer.core.web import with_response_floor
from mailer.organisation import settings as organisation_settings
from mailer.privacy.models.settings import DataRecipient
from mailer.privacy.objection import has_objected_to_marketing, lift_marketing_objection
from mailer.public.blueprint import bp
from mailer.public.views import public_limit, request_context
from mailer.subscriptions import preference_links
from mailer.subscriptions import preferences as service
from mailer.tracking.events import tracking_retention_days


def _render(token: str, contact, status: int = 200, **extra):
    i18n.use_language(contact.language)  # the person's language (as just chosen), else their browser's
    page = service.preference_page(contact)
    return render_template(
        "public/preferences.html",
        page=page,
        token=token,
        held=held_data(contact),
        privacy_links=service.privacy_links(token),
        objected=has_objected_to_marketing(contact),
        languages=i18n.language_choices(),
        **extra,
    ), status


def held_data(contact: Contact) -> dict:
    """Plain-language "what we hold and why": the facts the page needs, taken from config and the data."""
    config = current_app.config
    return {
        "email": contact.email,
        "name": contact.name,
        "since": contact.created_at,
        "tracking_days": tracking_retention_days(),
        "recipients": db.session.execute(
            select(DataRecipient).where(DataRecipient.active.is_(True)).order_by(DataRecipient.name)
        )
        .scalars()
        .all(),
        "unconfirmed_days": config["UNCONFIRMED_RETENTION_DAYS"],
        "privacy_url": config["PRIVACY_NOTICE_URL"] or "/privacy",
        "organisation": organisation_settings.name(),
        "postal_address": organisation_settings.postal_address(),
    }


def _unusable(status: str):
    """Broken or expired link: say so and offer a fresh one by email."""
    return render_template(
        "public/preferences_request.html", link_status=status
    ), 410 if status == "expired" else 404


@bp.get("/p")
@limiter.limit(public_limit)
def preferences_request():
    """Ask for a link to one's preferences by entering the address."""
    return render_template("public/preferences_request.html", link_status=None)


@bp.post("/p")
@csrf.exempt  # same answer whatever is sent; nothing changes but an email to the address itself; rate limited
@limiter.limit("10 per hour")
@with_response_floor
def preferences_request_post():
    """Email a fresh link if the address is known; the answer is the same either way (no enumeration)."""
    email = request.form.get("email", "")
    try:
        preference_links.request_link(email)
    except service.PreferencesError as exc:
        return render_template(
            "public/preferences_request.html", link_status=None, error=str(exc), email=email[:254]
        ), 400
    return render_template("public/preferences_sent.html")


@bp.get("/p/<token>")
@limiter.limit(public_limit)
def preferences(token: str):
    """Everything about the person in one page: lists, consents, name, what we hold, their rights."""
    contact, status = service.contact_for_token(token)
    if contact is None:
        return _unusable(status)
    i18n.use_language(contact.language)  # messages made below are in the person's language
    return _render(token, contact)


@bp.post("/p/<token>")
@csrf.exempt  # the signed token in the URL is the proof; works with cookies off, like the emails' links
@limiter.limit(public_limit)
def preferences_save(token: str):
    """Apply the ticked boxes and the name: one ledger event per change."""
    contact, status = service.contact_for_token(token)
    if contact is None:
        return _unusable(status)
    i18n.use_language(contact.language)  # messages made below are in the person's language
    name = request.form.get("name")
    try:
        values = {key[6:]: value for key, value in request.form.items() if key.startswith("field:")}
        changes = service.save_preferences(
            contact,
            set(request.form.getlist("choice")),
            name,
            request.form.get("notice"),
            request_context(service.SOURCE),
            values,
            language=request.form.get("language"),
        )
    except service.PreferencesError as exc:
        return _render(
            token, contact, 403 if contact.status == ContactStatus.RESTRICTED else 400, error=str(exc)
        )
    return _render(token, contact, changes=changes)


@bp.post("/p/<token>/unsubscribe-all")
@csrf.exempt  # withdrawal must be as easy as giving: one button, no cookie, no confirmation step
@limiter.limit(public_limit)
def preferences_unsubscribe_all(token: str):
    """Leave every list, withdraw every consent and suppress the address."""
    contact, status = service.contact_for_token(token)
    if contact is None:
        return _unusable(status)
    i18n.use_language(contact.language)  # messages made below are in the person's language
    service.unsubscribe_all(contact, request_context(service.SOURCE))
    return _render(token, contact, unsubscribed_all=True)


@bp.post("/p/<token>/marketing-again")
@csrf.exempt  # the signed token in the URL is the proof, as for the other buttons of this page
@limiter.limit(public_limit)
def preferences_marketing_again(token: str):
    """The person who objected to direct marketing asks for it again: one explicit press, recorded in the
    ledger."""
    contact, status = service.contact_for_token(token)
    if contact is None:
        return _unusable(status)
    i18n.use_language(contact.language)  # messages made below are in the person's language
    try:
        lifted = lift_marketing_objection(
            contact,
            request_context(service.SOURCE),
            "preference-centre",
            notice=service.preference_page(contact).notice,
        )
    except PrivacyError as exc:
        return _render(
            token, contact, 403 if contact.status == ContactStatus.RESTRICTED else 400, error=str(exc)
        )
    db.session.commit()
    return _render(token, contact, marketing_again=lifted)
