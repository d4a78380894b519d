"""Staff accounts: who can log in and with which role (owners and admins only)."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from mailer.admin import bp
from mailer.admin.privacy_forms import ActionForm, RoleForm, StaffForm
from mailer.extensions import db
from mailer.models import StaffUser
from mailer.services import staff_accounts
from mailer.services.privacy import PrivacyError


@bp.route("/staff", methods=["GET", "POST"])
def staff():
    """Every account, with a form to add one."""
    form = StaffForm()
    if form.validate_on_submit():
        try:
            user = staff_accounts.add_staff(current_user, form.email.data, form.role.data, form.password.data,
                                            request.remote_addr)
        except PrivacyError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(f"Account {user.email} created with the role {user.role}.", "success")
            return redirect(url_for("admin.staff"))
    return render_template("admin/privacy/staff.html", form=form, users=staff_accounts.all_staff(),
                           role_form=RoleForm(), action_form=ActionForm()), 400 if request.method == "POST" else 200


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
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(f"{user.email} is now {user.role}.", "success")
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
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(f"{user.email} {'reactivated' if user.active else 'deactivated'}.", "success")
    return redirect(url_for("admin.staff"))
