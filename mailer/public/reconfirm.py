"""The answer to a re-permission email (/stay/<token>): a button that keeps the lists it asked about."""

from flask import current_app, render_template
from sqlalchemy import select

from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.core import i18n
from mailer.core.extensions import csrf, db, limiter
from mailer.core.security import TokenExpired, TokenInvalid, read_token
from mailer.core.urls import preferences_url
from mailer.public.blueprint import bp
from mailer.public.views import public_limit, request_context
from mailer.subscriptions import reconfirmation

TEMPLATE = "public/list_reconfirm.html"


def _contact(token: str) -> tuple[Contact | None, str]:
    """The active contact the token names, or None and why ("expired" or "invalid")."""
    try:
        public_id = read_token("list-reconfirm", token, max_age=current_app.config["RECIPIENT_TOKEN_MAX_AGE"])
    except TokenExpired:
        return None, "expired"
    except TokenInvalid:
        return None, "invalid"
    contact = db.session.execute(
        select(Contact).where(Contact.public_id == str(public_id)[:32])
    ).scalar_one_or_none()
    if contact is None or contact.status != ContactStatus.ACTIVE:
        return None, "invalid"
    return contact, ""


def _bad_link(status: str):
    return render_template(TEMPLATE, problem=status), 410 if status == "expired" else 404


@bp.get("/stay/<token>")
@limiter.limit(public_limit)
def list_reconfirm(token: str):
    """Show the lists that wait for the person's answer, and the button (GET changes nothing)."""
    contact, status = _contact(token)
    if contact is None:
        return _bad_link(status)
    i18n.use_language(contact.language)
    waiting = reconfirmation.waiting_for(contact)
    db.session.commit()
    return render_template(
        TEMPLATE,
        token=token,
        waiting=[(ml.name, row.deadline_at) for row, ml in waiting],
        preferences=preferences_url(contact.public_id),
    )


@bp.post("/stay/<token>")
@csrf.exempt  # the signed token in the URL is the proof; works with cookies off, like the emails' links
@limiter.limit(public_limit)
def list_reconfirm_post(token: str):
    """Keep every list that waits: one "granted" ledger event each (reason "reconfirmed")."""
    contact, status = _contact(token)
    if contact is None:
        return _bad_link(status)
    i18n.use_language(contact.language)
    kept = reconfirmation.keep(contact, request_context("public:reconfirm"))
    db.session.commit()
    return render_template(TEMPLATE, kept=kept, done=True, preferences=preferences_url(contact.public_id))
