"""Staff accounts: who can log in and with which role (owners and admins only), and invitations to join."""

from collections.abc import Callable

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select

from mailer.admin.auth import begin_login
from mailer.admin.blueprint import bp
from mailer.admin.forms import InviteAcceptForm
from mailer.admin.language import role_name
from mailer.admin.privacy_forms import ActionForm, InviteForm, RoleForm
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db, limiter
from mailer.core.sentences import shown
from mailer.staff import lockout as staff_lockout
from mailer.staff import management as staff_accounts
from mailer.staff import second_factor
from mailer.staff.models.accounts import StaffInvite, StaffUser


@bp.route("/staff", methods=["GET", "POST"])
def staff():
    """Every account and pending invitation, with a form to invite someone."""
    form = InviteForm()
    if form.validate_on_submit():
        try:
            invite = staff_accounts.invite_staff(
                current_user, form.email.data, form.role.data, request.remote_addr
            )
        except PrivacyError as exc:
            db.session.rollback()
            flash(shown(exc), "danger")
        else:
            db.session.commit()
            flash(
                gettext(
                    "Invitation sent to %(email)s (role %(role)s). They choose their own password with the "
                    "link in it.",
                    email=invite.email,
                    role=invite.role,
                ),
                "success",
            )
            return redirect(url_for("admin.staff"))
    return render_template(
        "admin/privacy/staff.html",
        form=form,
        users=staff_accounts.all_staff(),
        factors=second_factor.factors_by_user(),
        locked={user.id: user.locked_until for user in staff_lockout.locked_accounts()},
        invites=staff_accounts.pending_invites(),
        role_form=RoleForm(),
        action_form=ActionForm(),
    ), 400 if request.method == "POST" else 200


def _invite_action(public_id: str, action, done: Callable[[str], str]):
    invite = db.one_or_404(select(StaffInvite).where(StaffInvite.public_id == public_id))
    if ActionForm().validate_on_submit():
        try:
            action(current_user, invite, request.remote_addr)
        except PrivacyError as exc:
            db.session.rollback()
            flash(shown(exc), "danger")
        else:
            db.session.commit()
            flash(done(invite.email), "success")
    return redirect(url_for("admin.staff"))


@bp.post("/staff/invites/<public_id>/resend")
def staff_invite_resend(public_id: str):
    """Send an invitation again with a fresh link and expiry (the old link stops working)."""
    return _invite_action(
        public_id,
        staff_accounts.resend_invite,
        lambda email: gettext("Invitation sent to %(email)s again.", email=email),
    )


@bp.post("/staff/invites/<public_id>/revoke")
def staff_invite_revoke(public_id: str):
    """Withdraw an invitation: its link stops working."""
    return _invite_action(
        public_id,
        staff_accounts.revoke_invite,
        lambda email: gettext("Invitation to %(email)s revoked.", email=email),
    )


@bp.route("/invite/<token>", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def invite_accept(token: str):
    """The invitee sets their own password (no login needed: the signed single-use link is the proof)."""
    lookup = staff_accounts.invite_for_token(token)
    form = InviteAcceptForm()
    if lookup.invite is not None and form.validate_on_submit():
        try:
            user = staff_accounts.accept_invite(token, form.password.data, request.remote_addr)
        except PrivacyError as exc:
            db.session.rollback()
            flash(shown(exc), "danger")
        else:
            db.session.commit()
            flash(gettext("Welcome! Your account (%(role)s) is ready.", role=role_name(user.role)), "success")
            return begin_login(user, url_for("admin.dashboard"))
    status = {"ok": 400 if request.method == "POST" else 200, "expired": 410}.get(lookup.status, 404)
    return render_template("admin/invite_accept.html", form=form, lookup=lookup, token=token), status


def _user(user_id: int) -> StaffUser:
    user = db.session.get(StaffUser, user_id)
    if user is None:
        abort(404)
    return user


@bp.post("/staff/<int:user_id>/role")
def staff_role(user_id: int):
    """Change someone's role."""
    user = _user(user_id)
    form = RoleForm()
    if form.validate_on_submit():
        try:
            staff_accounts.change_role(current_user, user, form.role.data, request.remote_addr)
        except PrivacyError as exc:
            db.session.rollback()
            flash(shown(exc), "danger")
        else:
            db.session.commit()
            flash(gettext("%(email)s is now %(role)s.", email=user.email, role=user.role), "success")
    return redirect(url_for("admin.staff"))


@bp.post("/staff/<int:user_id>/active")
def staff_toggle_active(user_id: int):
    """Deactivate or reactivate an account."""
    user = _user(user_id)
    if ActionForm().validate_on_submit():
        try:
            staff_accounts.set_active(current_user, user, not user.active, request.remote_addr)
        except PrivacyError as exc:
            db.session.rollback()
            flash(shown(exc), "danger")
        else:
            db.session.commit()
            flash(
                gettext("%(email)s reactivated.", email=user.email)
                if user.active
                else gettext("%(email)s deactivated.", email=user.email),
                "success",
            )
    return redirect(url_for("admin.staff"))
