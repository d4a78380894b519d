"""Staff accounts: creation, authentication and the first-run setup."""

from functools import cache

from flask import current_app
from flask_babel import gettext
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from mailer import audit
from mailer.contacts.operations import AddressError, normalise_email
from mailer.core import i18n
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.security import TokenExpired, TokenInvalid, make_token, read_token
from mailer.staff import lockout as staff_lockout
from mailer.staff import sessions as staff_sessions
from mailer.staff.models.accounts import ROLES, StaffUser
from mailer.staff.passwords import WeakPasswordError, check_password


@cache
def _dummy_hash(method: str) -> str:
    """Compared against when the account does not exist, so both paths take the same time (no enumeration):
    hashed the way real passwords are."""
    return generate_password_hash("not-a-real-password", method=method)


class StaffError(ValueError):
    """An account could not be created; the message says why."""


def check_new_account(email: str, role: str) -> str:
    """The normalised address for a new account (created now, or invited),
    or StaffError saying what is wrong."""
    try:
        email = normalise_email(email)
    except AddressError as exc:
        raise StaffError(str(exc)) from None
    if role not in ROLES:
        raise StaffError(f"Role must be one of: {', '.join(ROLES)}.")
    if db.session.execute(select(StaffUser).where(StaffUser.email == email)).scalar_one_or_none():
        raise StaffError("An account with that email already exists.")
    return email


def create_staff(email: str, password: str, role: str = "admin") -> StaffUser:
    """Create a staff account with a hashed password; the caller commits."""
    email = check_new_account(email, role)
    try:
        check_password(password, email)
    except WeakPasswordError as exc:
        raise StaffError(str(exc)) from None
    user = StaffUser(email=email, role=role, password_changed_at=utcnow())
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str, ip: str | None = None) -> StaffUser | None:
    """The active, unlocked account matching these credentials, or None (the same hash work either way).

    A wrong password counts towards the account's lockout whatever address it came from; a locked account
    refuses even the right password. Completing the login (second factor, session) is the caller's next step.
    """
    try:
        email = normalise_email(email)
    except AddressError:
        email = ""
    user = (
        db.session.execute(select(StaffUser).where(StaffUser.email == email)).scalar_one_or_none()
        if email
        else None
    )
    if user is None or not user.active:
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password or "")
        return None
    matches = user.check_password(password or "")
    if staff_lockout.is_locked(user):
        return None
    if not matches:
        staff_lockout.record_failure(user, ip)
        db.session.commit()
        return None
    return user


def change_password(user: StaffUser, current: str, new: str, keep=None, ip: str | None = None) -> None:
    """Replace a password after checking the current one;
    every other session of the user ends. Caller commits."""
    if not user.check_password(current or ""):
        raise StaffError("Your current password is not right.")
    try:
        check_password(new, user.email)
    except WeakPasswordError as exc:
        raise StaffError(str(exc)) from None
    if user.check_password(new):
        raise StaffError("The new password must differ from the current one.")
    user.set_password(new)
    user.password_changed_at = utcnow()
    ended = staff_sessions.end_sessions(user, keep=keep)
    audit.record("staff.password_change", "staff", str(user.id), {"sessions_ended": ended}, actor=user, ip=ip)


def set_language(user: StaffUser, code: str | None) -> None:
    """Choose the admin's language for this person (None: follow the browser). Caller commits."""
    if code is not None and i18n.supported(code) is None:
        raise StaffError(gettext("Choose one of the languages offered."))
    user.language = code


def mark_logged_in(user: StaffUser) -> None:
    """Note a login (password, first-run setup, accepted invitation): the staff list shows it."""
    user.last_login_at = utcnow()


def needs_setup() -> bool:
    """True until the first staff account exists."""
    return not db.session.execute(select(func.count()).select_from(StaffUser)).scalar_one()


def setup_token() -> str:
    """The signed first-run link token printed at start-up (valid one day, only while no account exists)."""
    return make_token("setup", "first-run")


def setup_token_valid(token: str) -> bool:
    """Whether a first-run token is genuine and fresh."""
    try:
        return read_token("setup", token, max_age=24 * 3600) == "first-run"
    except (TokenInvalid, TokenExpired):
        return False
