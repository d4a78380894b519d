"""Managing staff accounts: create, change role, deactivate — guarding the last owner; every change audited."""
from sqlalchemy import func, select

from mailer.extensions import db
from mailer.models import StaffUser
from mailer.models.staff import ROLES
from mailer.services.privacy import PrivacyError, audit
from mailer.services.staff import StaffError, create_staff


def all_staff() -> list[StaffUser]:
    return list(db.session.execute(select(StaffUser).order_by(StaffUser.email)).scalars())


def _active_owners() -> int:
    query = select(func.count()).select_from(StaffUser).where(StaffUser.role == "owner", StaffUser.active.is_(True))
    return db.session.execute(query).scalar_one()


def _may_manage(actor: StaffUser, target_role: str) -> None:
    """Only an owner creates, changes or removes owners."""
    if target_role == "owner" and actor.role != "owner":
        raise PrivacyError("Only an owner can give or change the owner role.")


def add_staff(actor: StaffUser, email: str, role: str, password: str, ip: str | None = None) -> StaffUser:
    """Create an account with an initial password; the caller commits."""
    _may_manage(actor, role)
    try:
        user = create_staff(email, password, role)
    except StaffError as exc:
        raise PrivacyError(str(exc)) from None
    audit.record("staff.create", "staff", str(user.id), {"role": role}, actor=actor, ip=ip)
    return user


def change_role(actor: StaffUser, user: StaffUser, role: str, ip: str | None = None) -> None:
    """Give someone another role; the last active owner keeps theirs."""
    if role not in ROLES:
        raise PrivacyError(f"Role must be one of: {', '.join(ROLES)}.")
    _may_manage(actor, role)
    _may_manage(actor, user.role)
    if user.role == "owner" and role != "owner" and user.active and _active_owners() <= 1:
        raise PrivacyError("This is the last owner; make someone else owner first.")
    if role != user.role:
        audit.record("staff.role", "staff", str(user.id), {"from": user.role, "to": role}, actor=actor, ip=ip)
        user.role = role


def set_active(actor: StaffUser, user: StaffUser, active: bool, ip: str | None = None) -> None:
    """Deactivate (they can no longer log in) or reactivate an account."""
    _may_manage(actor, user.role)
    if not active and user.id == actor.id:
        raise PrivacyError("You cannot deactivate your own account.")
    if not active and user.role == "owner" and user.active and _active_owners() <= 1:
        raise PrivacyError("This is the last owner; it cannot be deactivated.")
    if user.active != active:
        audit.record("staff.activate" if active else "staff.deactivate", "staff", str(user.id), {}, actor=actor, ip=ip)
        user.active = active
