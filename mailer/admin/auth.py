"""Login (password, then the second factor when the account has one), logout and the first-run setup page."""

import re
import time
from urllib.parse import urlsplit

from flask import abort, flash, has_request_context, redirect, render_template, request, session, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_user, logout_user

from mailer.admin.blueprint import bp
from mailer.admin.forms import LoginForm, SecondFactorForm, SetupForm
from mailer.core.extensions import db, limiter
from mailer.core.sentences import shown
from mailer.core.web import pad_to_floor
from mailer.staff import (
    accounts as staff,
)
from mailer.staff import (
    lockout as staff_lockout,
)
from mailer.staff import (
    second_factor,
)
from mailer.staff import (
    sessions as staff_sessions,
)
from mailer.staff.models.accounts import StaffUser

PENDING_KEY = "pending_login"  # who passed the password step and what they asked for, until the second factor
PENDING_SECONDS = 600
LOGIN_FAILED = lazy_gettext("Wrong email or password.")


def safe_next(target: str | None) -> str:
    """Only local paths may be redirected to after login (no open redirect).

    Checked as a browser will read it: browsers drop tabs and newlines anywhere in a URL, so
    "/<TAB>/evil.example" would otherwise pass as a path and land on "//evil.example".
    """
    target = re.sub(r"[\x00-\x1f\x7f]", "", target or "").strip()
    parts = urlsplit(target)
    if (
        target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and not parts.scheme
        and not parts.netloc
    ):
        return target
    return url_for("admin.dashboard")


def finish_login(user: StaffUser, factor: str | None) -> None:
    """Start a server-side session for a fully authenticated person and put its token in the signed cookie."""
    session.pop(PENDING_KEY, None)
    token = staff_sessions.start_session(user, request.user_agent.string, factor)
    staff_lockout.record_success(user)
    staff.mark_logged_in(user)
    db.session.commit()
    session[staff_sessions.COOKIE_KEY] = token
    login_user(user)


def begin_login(user: StaffUser, next_url: str):
    """After the password (or a new account): ask for the second factor if there is one, else log in.

    People whose role needs a second factor but who have none yet are logged in and then held on the
    enrolment page by the admin's before_request hook until they set one up.
    """
    if second_factor.has_second_factor(user):
        session[PENDING_KEY] = {"u": user.id, "at": int(time.time()), "next": next_url}
        return redirect(url_for("admin.login_verify"))
    finish_login(user, None)
    return redirect(next_url)


def this_session():
    """The server-side record of the logged-in browser's session (None when logged out)."""
    if not current_user.is_authenticated:
        return None
    return staff_sessions.session_for_token(current_user.id, session.get(staff_sessions.COOKIE_KEY))


def pending_user() -> StaffUser | None:
    """The person between the password and the second factor, while that step is fresh."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    user = db.session.get(StaffUser, pending.get("u")) if isinstance(pending.get("u"), int) else None
    return user if user is not None and user.active else None


# All that someone whose role needs a second factor can use until they have one (and the pages for logging in,
# where they may start again as someone else).
ENROLMENT_ENDPOINTS = {
    "admin.account_totp",
    "admin.logout",
    "admin.static",
    "admin.login",
    "admin.login_verify",
    "admin.login_passkey_options",
    "admin.login_passkey",
    "admin.setup",
    "admin.invite_accept",
}


def _held_for_enrolment() -> bool:
    """Whether the logged-in person's role needs a second factor they have not set up yet."""
    return (
        current_user.is_authenticated
        and second_factor.required_for(current_user)
        and not second_factor.has_second_factor(current_user)
    )


def hold_for_second_factor():
    """before_request (after the permission check): send such
    a person to the set-up page, then where they were."""
    if request.endpoint in ENROLMENT_ENDPOINTS or not _held_for_enrolment():
        return None
    asked_for = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("admin.account_totp", next=asked_for))


def inject_enrolment_state():
    """The menu stays hidden while someone is held on the set-up page (its links would only lead back)."""
    return {"held_for_enrolment": _held_for_enrolment()} if has_request_context() else {}


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def login():
    """Staff login; the same message whether the account exists, is locked or the password is wrong."""
    form = LoginForm()
    if form.validate_on_submit():
        started = time.monotonic()
        user = staff.authenticate(form.email.data, form.password.data, request.remote_addr)
        pad_to_floor(started, "STAFF_LOGIN_FLOOR_MS")  # known, unknown and locked accounts take the same time
        if user is not None:
            return begin_login(user, safe_next(request.args.get("next")))
        flash(str(LOGIN_FAILED), "danger")
    elif request.method == "POST":
        flash(gettext("Please enter your email and password."), "danger")
    return render_template("admin/login.html", form=form, needs_setup=staff.needs_setup()), (
        401 if request.method == "POST" else 200
    )


@bp.route("/login/verify", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def login_verify():
    """The second step: a code from the authenticator app, a recovery code, or a passkey."""
    user = pending_user()
    if user is None:
        flash(gettext("Please log in again."), "info")
        return redirect(url_for("admin.login"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        if staff_lockout.is_locked(user):
            flash(
                gettext(
                    "Too many wrong attempts: this account is locked until %(time)s UTC "
                    "(an email was sent to it).",
                    time=f"{user.locked_until:%H:%M}",
                ),
                "danger",
            )
        elif second_factor.verify_totp(user, form.code.data):
            return _verified(user, "totp")
        elif second_factor.use_recovery_code(user, form.code.data, request.remote_addr):
            flash(
                gettext(
                    "You used a recovery code; %(left)s left. Each works once: create new ones under Account "
                    "when you run low.",
                    left=second_factor.recovery_codes_left(user),
                ),
                "warning",
            )
            return _verified(user, "recovery-code")
        else:
            staff_lockout.record_failure(user, request.remote_addr)
            db.session.commit()
            flash(
                gettext(
                    "That code is not right. Enter the current 6-digit code from your app, "
                    "or a recovery code."
                ),
                "danger",
            )
    return render_template(
        "admin/login_verify.html",
        form=form,
        has_totp=user.totp_enabled_at is not None,
        has_passkey=second_factor.passkey_count(user) > 0,
    ), (400 if request.method == "POST" else 200)


def _verified(user: StaffUser, factor: str):
    next_url = safe_next(session.get(PENDING_KEY, {}).get("next"))
    finish_login(user, factor)
    return redirect(next_url)


@bp.post("/logout")
def logout():
    """End the staff session here and on the server: a copy of the cookie no longer works."""
    record = this_session()
    if record is not None:
        staff_sessions.end_session(record)
        db.session.commit()
    logout_user()
    session.pop(staff_sessions.COOKIE_KEY, None)
    flash(gettext("You have been logged out."), "info")
    return redirect(url_for("admin.login"))


@bp.route("/setup", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def setup():
    """First run: create the owner account with the link printed at start-up."""
    token = request.args.get("token", "")
    if not staff.needs_setup():
        flash(gettext("Setup is already done. Please log in."), "info")
        return redirect(url_for("admin.login"))
    if not staff.setup_token_valid(token):
        abort(404)
    form = SetupForm()
    if form.validate_on_submit():
        try:
            user = staff.create_staff(form.email.data, form.password.data, role="owner")
        except staff.StaffError as exc:
            flash(shown(exc), "danger")
        else:
            db.session.commit()
            flash(gettext("Welcome! Your owner account is ready."), "success")
            return begin_login(user, url_for("admin.dashboard"))
    return render_template(
        "admin/setup.html", form=form, token=token
    ), 400 if request.method == "POST" else 200
