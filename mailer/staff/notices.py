"""Emails to staff about their own account: the invitation to join and the lockout notice.

Called by actors (never from a request); each re-reads state and does nothing when the mail has become moot.
"""

from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.urls import external_url
from mailer.delivery.notices import send_notice
from mailer.delivery.outgoing import MessageKind
from mailer.organisation import settings as organisation_settings
from mailer.staff.management import invite_token
from mailer.staff.models.accounts import StaffInvite, StaffUser


def send_staff_invitation(invite_id: int) -> str | None:
    """The invitation to join the admin, with the single-use link to set one's own password."""
    invite = db.session.get(StaffInvite, invite_id)
    if invite is None or invite.status != "pending":
        return None
    organisation = organisation_settings.name()
    inviter = invite.invited_by.email if invite.invited_by is not None else "An administrator"
    message_id = send_notice(
        MessageKind.STAFF_INVITATION,
        invite.email,
        None,
        f"You're invited to the {organisation} mailing admin",
        heading="You're invited",
        paragraphs=[
            f"{inviter} invited you to work in the {organisation} mailing admin with the role "
            f"“{invite.role}”.",
            "Choose your own password with the button below; nobody else knows it.",
        ],
        button_url=external_url("admin.invite_accept", token=invite_token(invite)),
        button_label="Set my password",
        footnote=f"The link works once, until {invite.expires_at:%d %B %Y %H:%M} UTC. "
        "If you weren't expecting this invitation, ignore this email: no account is created.",
    )
    invite.sent_at, invite.send_count = utcnow(), (invite.send_count or 0) + 1
    db.session.commit()
    return message_id


def send_staff_lockout_notice(user_id: int) -> str | None:
    """Tell a staff member their account was locked after repeated wrong passwords or codes."""
    user = db.session.get(StaffUser, user_id)
    if user is None or not user.active or user.locked_until is None:
        return None
    organisation = organisation_settings.name()
    return send_notice(
        MessageKind.STAFF_LOCKOUT,
        user.email,
        None,
        f"Your {organisation} mailing admin account was locked",
        heading="Your account was locked",
        paragraphs=[
            f"Someone entered a wrong password or code for your account several times, so nobody can log "
            f"in to it until {user.locked_until:%d %B %Y %H:%M} UTC. Each further lock lasts longer.",
            "If that was you, wait until then and try again. If it was not you, someone may be guessing: "
            "once you are back in, change your password under Account, check your active sessions there, "
            "and make sure a second factor (authenticator app or passkey) is set up.",
        ],
        button_url=external_url("admin.login"),
        button_label="Go to the login page",
        footnote="No one can log in with a password alone while the account is locked, "
        "not even with the right one.",
    )
