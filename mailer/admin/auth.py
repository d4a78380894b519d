"""Login, logout and the first-run setup page."""
import re
from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import login_user, logout_user

from mailer.admin import bp
from mailer.admin.forms import LoginForm, SetupForm
from mailer.extensions import db, limiter
from mailer.services import staff


def safe_next(target: str | None) -> str:
    """Only local paths may be redirected to after login (no open redirect).

    Checked as a browser will read it: browsers drop tabs and newlines anywhere in a URL, so "/<TAB>/evil.example"
    would otherwise pass as a path and land on "//evil.example".
    """
    target = re.sub(r"[\x00-\x1f\x7f]", "", target or "").strip()
    parts = urlsplit(target)
    if (target.startswith("/") and not target.startswith("//") and "\\" not in target
            and not parts.scheme and not parts.netloc):
        return target
    return url_for("admin.dashboard")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def login():
    """Staff login; the same message whether the account exists or not."""
    form = LoginForm()
    if form.validate_on_submit():
        user = staff.authenticate(form.email.data, form.password.data)
        if user is not None:
            login_user(user)
            return redirect(safe_next(request.args.get("next")))
        flash("Wrong email or password.", "danger")
    elif request.method == "POST":
        flash("Please enter your email and password.", "danger")
    return render_template("admin/login.html", form=form, needs_setup=staff.needs_setup()), (
        401 if request.method == "POST" else 200)


@bp.post("/logout")
def logout():
    """End the staff session."""
    logout_user()
    flash("You have been logged out.", "info")
    return redirect(url_for("admin.login"))


@bp.route("/setup", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def setup():
    """First run: create the owner account with the link printed at start-up."""
    token = request.args.get("token", "")
    if not staff.needs_setup():
        flash("Setup is already done. Please log in.", "info")
        return redirect(url_for("admin.login"))
    if not staff.setup_token_valid(token):
        abort(404)
    form = SetupForm()
    if form.validate_on_submit():
        try:
            user = staff.create_staff(form.email.data, form.password.data, role="owner")
        except staff.StaffError as exc:
            flash(str(exc), "danger")
        else:
            staff.mark_logged_in(user)
            db.session.commit()
            login_user(user)
            flash("Welcome! Your owner account is ready.", "success")
            return redirect(url_for("admin.dashboard"))
    return render_template("admin/setup.html", form=form, token=token), 400 if request.method == "POST" else 200
