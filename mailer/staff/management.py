"""Managing staff accounts: invite, change role, deactivate — guarding the last owner; every change audited.

Nobody chooses a password for someone else: an owner or admin invites an address with a role, the invitee
receives a signed, purpose-salted, expiring, single-use link and sets their own password (the CLI's
create-admin stays for the operator of the server).
"""

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, func, select, update

from mailer import audit
from mailer.core.broker import enqueue_after_commit
from mailer.core.clock import utcnow
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.core.security import TokenExpired, TokenInvalid, make_token, read_token
from mailer.staff import sessions as staff_sessions
from mailer.staff.accounts import StaffError, check_new_account, create_staff
from mailer.staff.models.accounts import ROLES, StaffInvite, StaffUser

INVITE_TOKEN_PURPOSE = "staff-invite"


def all_staff() -> list[StaffUser]:
    return list(db.session.execute(select(StaffUser).order_by(StaffUser.email)).scalars())


def _active_owners() -> int:
    query = (
        select(func.count())
        .select_from(StaffUser)
        .where(StaffUser.role == "owner", StaffUser.active.is_(True))
    )
    return db.session.execute(query).scalar_one()


def _may_manage(actor: StaffUser, target_role: str) -> None:
    """Only an owner creates, changes or removes owners."""
    if target_role == "owner" and actor.role != "owner":
        raise PrivacyError("Only an owner can give or change the owner role.")


def _invite_seconds() -> int:
    return int(current_app.config.get("STAFF_INVITE_MAX_AGE", 72 * 3600))


def _send(invite: StaffInvite) -> None:
    """A fresh link (the previous one stops working) and a new expiry;
    the email goes after the caller's commit."""
    invite.nonce = secrets.token_urlsafe(24)
    invite.expires_at = utcnow() + timedelta(seconds=_invite_seconds())
    enqueue_after_commit(db.session, "send_staff_invitation", invite.id)


def _waiting_invites():
    return select(StaffInvite).where(StaffInvite.accepted_at.is_(None), StaffInvite.revoked_at.is_(None))


def pending_invites() -> list[StaffInvite]:
    """Invitations not yet accepted or revoked (expired ones too, so they can be sent again), newest first."""
    query = _waiting_invites().order_by(StaffInvite.created_at.desc(), StaffInvite.id.desc())
    return list(db.session.execute(query).scalars())


def invite_staff(actor: StaffUser, email: str, role: str, ip: str | None = None) -> StaffInvite:
    """Invite someone by email with a role; the caller commits (which queues the email)."""
    try:
        email = check_new_account(email, role)
    except StaffError as exc:
        raise PrivacyError(str(exc)) from None
    _may_manage(actor, role)
    if db.session.execute(_waiting_invites().where(StaffInvite.email == email).limit(1)).first() is not None:
        raise PrivacyError(
            "That address already has an invitation waiting: send it again from the list below."
        )
    invite = StaffInvite(email=email, role=role, invited_by_id=actor.id, nonce="", expires_at=utcnow())
    db.session.add(invite)
    db.session.flush()
    _send(invite)
    audit.record("staff.invite", "staff_invite", invite.public_id, {"role": role}, actor=actor, ip=ip)
    return invite


def _open_invite(actor: StaffUser, invite: StaffInvite) -> None:
    _may_manage(actor, invite.role)
    if invite.accepted_at is not None:
        raise PrivacyError("This invitation was already accepted.")
    if invite.revoked_at is not None:
        raise PrivacyError("This invitation was revoked; invite the address again.")


def resend_invite(actor: StaffUser, invite: StaffInvite, ip: str | None = None) -> None:
    """Send a new link (with a new expiry); earlier links stop working. The caller commits."""
    _open_invite(actor, invite)
    _send(invite)
    audit.record(
        "staff.invite_resend", "staff_invite", invite.public_id, {"role": invite.role}, actor=actor, ip=ip
    )


def revoke_invite(actor: StaffUser, invite: StaffInvite, ip: str | None = None) -> None:
    """Withdraw an invitation: its link stops working at once. The caller commits."""
    _open_invite(actor, invite)
    invite.revoked_at = utcnow()
    audit.record(
        "staff.invite_revoke", "staff_invite", invite.public_id, {"role": invite.role}, actor=actor, ip=ip
    )


def invite_token(invite: StaffInvite) -> str:
    """The signed link payload: the invitation's opaque id and its current nonce (no address, no role)."""
    return make_token(INVITE_TOKEN_PURPOSE, {"i": invite.public_id, "n": invite.nonce})


@dataclass
class InviteLookup:
    invite: StaffInvite | None
    status: str  # ok | expired | used | invalid


def invite_for_token(token: str) -> InviteLookup:
    """The invitation a link names, if it can still be used; a replaced,
    revoked or used link is 'invalid'/'used'."""
    try:
        payload = read_token(INVITE_TOKEN_PURPOSE, token, max_age=_invite_seconds())
    except TokenExpired:
        return InviteLookup(None, "expired")
    except TokenInvalid:
        return InviteLookup(None, "invalid")
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("i"), str)
        or not isinstance(payload.get("n"), str)
    ):
        return InviteLookup(None, "invalid")
    invite = db.session.execute(
        select(StaffInvite).where(StaffInvite.public_id == payload["i"])
    ).scalar_one_or_none()
    if (
        invite is None
        or invite.revoked_at is not None
        or not secrets.compare_digest(invite.nonce, payload["n"])
    ):
        return InviteLookup(None, "invalid")
    if invite.accepted_at is not None:
        return InviteLookup(None, "used")
    if invite.expires_at <= utcnow():
        return InviteLookup(None, "expired")
    return InviteLookup(invite, "ok")


def accept_invite(token: str, password: str, ip: str | None = None) -> StaffUser:
    """Create the invitee's account with the password they chose; the link works once. The caller commits."""
    lookup = invite_for_token(token)
    if lookup.invite is None:
        raise PrivacyError(
            {
                "expired": "This invitation has expired: ask for a new one.",
                "used": "This invitation was already used: log in instead.",
            }.get(lookup.status, "This invitation link is not valid (any more).")
        )
    invite = lookup.invite
    claimed = db.session.execute(
        update(StaffInvite)
        .where(
            StaffInvite.id == invite.id,
            StaffInvite.accepted_at.is_(None),
            StaffInvite.revoked_at.is_(None),
            StaffInvite.nonce == invite.nonce,
        )
        .values(accepted_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if (
        cast("CursorResult[Any]", claimed).rowcount != 1
    ):  # accepted (or revoked) at the same moment in another request
        raise PrivacyError("This invitation was already used: log in instead.")
    try:
        user = create_staff(invite.email, password, invite.role)
    except StaffError as exc:
        raise PrivacyError(str(exc)) from None
    db.session.refresh(invite)
    audit.record(
        "staff.invite_accept",
        "staff",
        str(user.id),
        {"role": user.role, "invite": invite.public_id, "invited_by": invite.invited_by_id},
        actor=user,
        ip=ip,
    )
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
        audit.record(
            "staff.activate" if active else "staff.deactivate", "staff", str(user.id), {}, actor=actor, ip=ip
        )
        user.active = active
    if (
        not active
    ):  # ended for good: reactivating the account must not bring an old (perhaps copied) cookie back
        staff_sessions.end_sessions(user)
