"""One's own account: password, active sessions, authenticator
app and recovery codes (passkeys: passkeys.py)."""

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user, logout_user

from mailer import audit
from mailer.admin.auth import safe_next, this_session
from mailer.admin.blueprint import bp
from mailer.admin.forms import LanguageForm, PasswordChangeForm, TotpCodeForm, TotpEnrolForm
from mailer.admin.privacy_forms import ActionForm
from mailer.core import i18n
from mailer.core.extensions import db, limiter
from mailer.core.sentences import shown
from mailer.core.web import error_response
from mailer.staff import accounts as staff
from mailer.staff import second_factor
from mailer.staff import sessions as staff_sessions
from mailer.staff.second_factor import SecondFactorError


def _render_account(password_form=None, code_form=None, language_form=None, status: int = 200):
    return render_template(
        "admin/account/index.html",
        sessions=staff_sessions.live_sessions(current_user),
        this_session=this_session(),
        password_form=password_form or PasswordChangeForm(),
        language_form=language_form or LanguageForm(language=current_user.language or ""),
        code_form=code_form or TotpCodeForm(),
        action_form=ActionForm(),
        required=second_factor.required_for(current_user),
        codes_left=second_factor.recovery_codes_left(current_user),
        passkeys=second_factor.passkeys(current_user),
    ), status


@bp.get("/account")
def account():
    """Password, sessions and second factors of the person logged in."""
    return _render_account()


@bp.post("/account/password")
@limiter.limit("10 per minute")
def account_password():
    """Change one's password; every other session ends."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            staff.change_password(
                current_user,
                form.current.data,
                form.password.data,
                keep=this_session(),
                ip=request.remote_addr,
            )
        except staff.StaffError as exc:
            db.session.rollback()
            form.password.errors = [*form.password.errors, shown(exc)]
        else:
            db.session.commit()
            flash(gettext("Password changed. You were logged out everywhere else."), "success")
            return redirect(url_for("admin.account"))
    return _render_account(password_form=form, status=400)


@bp.post("/account/language")
def account_language():
    """Choose the admin's language (or follow the browser's); the next page is in it."""
    form = LanguageForm()
    if form.validate_on_submit():
        try:
            staff.set_language(current_user, form.language.data or None)
        except staff.StaffError as exc:
            form.language.errors = [*form.language.errors, shown(exc)]
        else:
            db.session.commit()
            i18n.use_language(current_user.language or i18n.browser_language())
            flash(gettext("Language saved."), "success")
            return redirect(url_for("admin.account"))
    return _render_account(language_form=form, status=400)


@bp.post("/account/sessions/<public_id>/end")
def account_session_end(public_id: str):
    """End one of one's own sessions (another browser, or this one)."""
    record = staff_sessions.find_live_session(current_user, public_id)
    if record is None or not ActionForm().validate_on_submit():
        flash(gettext("That session has already ended."), "info")
        return redirect(url_for("admin.account"))
    is_this_browser = record.id == getattr(this_session(), "id", None)
    staff_sessions.end_session(record)
    audit.record(
        "staff.session_end",
        "staff",
        str(current_user.id),
        {"client": record.client},
        actor=current_user,
        ip=request.remote_addr,
    )
    db.session.commit()
    if is_this_browser:
        return _logged_out(gettext("You have been logged out."))
    flash(gettext("Session ended (%(client)s).", client=record.client), "success")
    return redirect(url_for("admin.account"))


@bp.post("/account/sessions/end-all")
def account_sessions_end():
    """Log out everywhere, this browser included."""
    if ActionForm().validate_on_submit():
        ended = staff_sessions.end_sessions(current_user)
        audit.record(
            "staff.sessions_end",
            "staff",
            str(current_user.id),
            {"sessions": ended},
            actor=current_user,
            ip=request.remote_addr,
        )
        db.session.commit()
        return _logged_out(gettext("You have been logged out everywhere."))
    return redirect(url_for("admin.account"))


def _logged_out(message: str):
    logout_user()
    session.pop(staff_sessions.COOKIE_KEY, None)
    flash(message, "info")
    return redirect(url_for("admin.login"))


@bp.route("/account/two-factor", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def account_totp():
    """Set up an authenticator app: QR code and key, confirmed
    with a first code; then the recovery codes, once."""
    if current_user.totp_enabled_at is not None:
        return redirect(url_for("admin.account"))
    try:
        secret = second_factor.enrolment_secret(current_user)
    except SecondFactorError as exc:
        return error_response(503, shown(exc))
    form = TotpEnrolForm()
    next_url = safe_next(request.args.get("next"))
    if form.validate_on_submit():
        try:
            codes = second_factor.enable_totp(current_user, form.code.data)
        except SecondFactorError as exc:
            form.code.errors = [*form.code.errors, shown(exc)]
        else:
            record = this_session()
            if record is not None:
                record.second_factor = "totp"
                db.session.commit()
            return render_template(
                "admin/account/recovery_codes.html", codes=codes, next_url=next_url, just_enrolled=True
            )
    uri = second_factor.provisioning_uri(current_user, secret)
    return render_template(
        "admin/account/totp.html",
        form=form,
        qr=second_factor.qr_svg(uri),
        key=second_factor.manual_key(secret),
        required=second_factor.required_for(current_user),
    ), (400 if request.method == "POST" else 200)


@bp.post("/account/two-factor/remove")
def account_totp_remove():
    """Remove the authenticator app; needs a fresh code from it (or a recovery code)."""
    form = TotpCodeForm()
    if form.validate_on_submit():
        try:
            second_factor.disable_totp(current_user, form.code.data, request.remote_addr)
        except SecondFactorError as exc:
            db.session.rollback()
            form.code.errors = [shown(exc)]
            return _render_account(code_form=form, status=400)
        db.session.commit()
        flash(gettext("The authenticator app was removed."), "success")
    return redirect(url_for("admin.account"))


@bp.post("/account/recovery-codes")
def account_recovery_codes():
    """Replace the recovery codes (the old ones stop working); needs a fresh code from the app."""
    form = TotpCodeForm()
    if form.validate_on_submit():
        if second_factor.verify_totp(current_user, form.code.data):
            codes = second_factor.new_recovery_codes(current_user, request.remote_addr)
            db.session.commit()
            return render_template(
                "admin/account/recovery_codes.html",
                codes=codes,
                next_url=url_for("admin.account"),
                just_enrolled=False,
            )
        db.session.commit()
        form.code.errors = [
            gettext("That code is not right: new recovery codes need a fresh code from your app.")
        ]
    return _render_account(code_form=form, status=400)
