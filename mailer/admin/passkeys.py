"""Passkey doors: add and remove on the account page, and the passkey answer at the second login step."""

import time

from flask import flash, jsonify, redirect, request, session, url_for
from flask_login import current_user

from mailer.admin.auth import PENDING_KEY, finish_login, pending_user, safe_next
from mailer.admin.blueprint import bp
from mailer.admin.privacy_forms import ActionForm
from mailer.core.extensions import db, limiter
from mailer.core.sentences import shown
from mailer.staff import lockout as staff_lockout
from mailer.staff import passkeys
from mailer.staff.second_factor import SecondFactorError

CHALLENGE_KEY = "passkey_challenge"  # one challenge at a time, single use, in the signed session cookie
CHALLENGE_SECONDS = 300


def _issue(options_and_challenge: tuple[str, str], purpose: str):
    options, challenge = options_and_challenge
    session[CHALLENGE_KEY] = {"c": challenge, "p": purpose, "at": int(time.time())}
    return options, 200, {"Content-Type": "application/json"}


def _take_challenge(purpose: str) -> str | None:
    """The challenge issued for this purpose, if fresh; it is used up either way."""
    issued = session.pop(CHALLENGE_KEY, None)
    if (
        not isinstance(issued, dict)
        or issued.get("p") != purpose
        or time.time() - issued.get("at", 0) > CHALLENGE_SECONDS
    ):
        return None
    return issued.get("c")


@bp.post("/account/passkeys/options")
def account_passkey_options():
    """Options for registering a new passkey (the page's script passes them to the browser)."""
    return _issue(passkeys.registration_options(current_user), "register")


@bp.post("/account/passkeys/add")
@limiter.limit("10 per minute")
def account_passkey_add():
    """Store the passkey the browser created, after checking it answers our challenge."""
    challenge = _take_challenge("register")
    if challenge is None:
        return jsonify(ok=False, error="The request took too long. Please try again."), 400
    try:
        key, codes = passkeys.add_passkey(
            current_user,
            request.form.get("credential", ""),
            challenge,
            request.form.get("name", ""),
            request.remote_addr,
        )
    except SecondFactorError as exc:
        db.session.rollback()
        return jsonify(ok=False, error=shown(exc)), 400
    db.session.commit()
    return jsonify(ok=True, message=f"Passkey “{key.name}” added.", recovery_codes=codes)


@bp.post("/account/passkeys/<public_id>/remove")
def account_passkey_remove(public_id: str):
    """Remove one of one's passkeys."""
    if ActionForm().validate_on_submit():
        try:
            key = passkeys.remove_passkey(current_user, public_id, request.remote_addr)
        except SecondFactorError as exc:
            db.session.rollback()
            flash(shown(exc), "danger")
        else:
            db.session.commit()
            flash(f"Passkey “{key.name}” removed.", "success")
    return redirect(url_for("admin.account"))


@bp.post("/login/passkey/options")
@limiter.limit("10 per minute")
def login_passkey_options():
    """Options for the passkey step of a login in progress."""
    user = pending_user()
    if user is None:
        return jsonify(ok=False, error="Please log in again."), 401
    return _issue(passkeys.authentication_options(user), "login")


@bp.post("/login/passkey")
@limiter.limit("10 per minute")
def login_passkey():
    """Finish a login with a passkey's signature over our challenge."""
    user = pending_user()
    if user is None:
        return jsonify(ok=False, error="Please log in again."), 401
    challenge = _take_challenge("login")
    if staff_lockout.is_locked(user):
        return jsonify(ok=False, error="Too many wrong attempts: this account is locked for now."), 403
    if challenge is None or not passkeys.verify_passkey(user, request.form.get("credential", ""), challenge):
        db.session.rollback()
        staff_lockout.record_failure(user, request.remote_addr)
        db.session.commit()
        return jsonify(ok=False, error="This passkey was not accepted. Try again or use a code."), 400
    next_url = safe_next(session.get(PENDING_KEY, {}).get("next"))
    finish_login(user, "passkey")
    return jsonify(ok=True, redirect=next_url)
