"""Per-account lockout: wrong passwords or codes from any address lock the account, longer each time."""

from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from mailer import audit
from mailer.core.broker import enqueue_after_commit
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.staff.models.accounts import StaffUser

MAX_LOCK = timedelta(days=1)


def is_locked(user: StaffUser) -> bool:
    """Whether the account refuses every login for now (even with the right password)."""
    return user.locked_until is not None and user.locked_until > utcnow()


def lock_duration(lockouts: int) -> timedelta:
    """How long the n-th lock in a row lasts (1st: STAFF_LOCKOUT_SECONDS, then doubling, at most a day)."""
    seconds = current_app.config["STAFF_LOCKOUT_SECONDS"] * 2 ** min(max(lockouts - 1, 0), 20)
    return min(timedelta(seconds=seconds), MAX_LOCK)


def record_failure(user: StaffUser, ip: str | None = None) -> bool:
    """Count one wrong password or code; at the threshold lock the account and email its owner.

    Counted in one UPDATE, so guesses arriving at once from many addresses are all counted. Returns True when
    this failure locked the account. The caller commits.
    """
    counted = db.session.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id)
        .values(failed_logins=StaffUser.failed_logins + 1)
        .returning(StaffUser.failed_logins)
    ).scalar_one()
    if counted < current_app.config["STAFF_LOCKOUT_THRESHOLD"]:
        db.session.refresh(user)
        return False
    locked = db.session.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id, StaffUser.failed_logins == counted)
        .values(failed_logins=0, lockouts=StaffUser.lockouts + 1)
        .returning(StaffUser.lockouts)
    ).scalar_one_or_none()
    if locked is None:  # another request reached the threshold at the same moment and locked it
        db.session.refresh(user)
        return False
    until = utcnow() + lock_duration(locked)
    db.session.execute(update(StaffUser).where(StaffUser.id == user.id).values(locked_until=until))
    db.session.refresh(user)
    audit.record(
        "staff.lockout",
        "staff",
        str(user.id),
        {"until": until.isoformat(timespec="seconds"), "lock": locked},
        ip=ip,
    )
    enqueue_after_commit(db.session, "send_staff_lockout_notice", user.id)
    return True


def record_success(user: StaffUser) -> None:
    """A complete login (password and any second factor) clears the count. The caller commits."""
    user.failed_logins = 0
    user.lockouts = 0
    user.locked_until = None


def locked_accounts() -> list[StaffUser]:
    """Accounts locked right now (for the staff page)."""
    query = select(StaffUser).where(StaffUser.locked_until > utcnow()).order_by(StaffUser.email)
    return list(db.session.execute(query).scalars())
