"""A form's confirmation email per language: the editor (a tab per language), its live preview and reset."""

from flask import abort, flash, jsonify, redirect, render_template, request
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField, TextAreaField

from mailer.admin.blueprint import bp
from mailer.core import i18n
from mailer.core.extensions import db
from mailer.subscriptions import system_emails
from mailer.subscriptions.confirmation import preview_confirmation
from mailer.subscriptions.models.forms import Form


class SystemEmailForm(FlaskForm):
    """Subject, text and button of the confirmation email (checked by system_emails.clean)."""

    subject = StringField("Subject")
    body = TextAreaField("Text")
    button_label = StringField("Button")


def _form_and_language(public_id: str, language: str) -> Form:
    form_obj = db.one_or_404(select(Form).where(Form.public_id == public_id))
    if form_obj.deleted_at is not None or language not in _languages(form_obj):
        abort(404)
    return form_obj


def _languages(form_obj: Form) -> list[str]:
    return list(dict.fromkeys([form_obj.wording_language, *(form_obj.languages or [])]))


def _typed(wtform: SystemEmailForm) -> system_emails.EmailText:
    return system_emails.EmailText(
        wtform.subject.data or "", wtform.body.data or "", wtform.button_label.data or ""
    )


@bp.route("/forms/<public_id>/emails/confirmation/<language>", methods=["GET", "POST"])
def form_confirmation_email(public_id: str, language: str):
    """Edit (or reset) the confirmation email of a form in one of its languages; POST without JavaScript
    with action=preview shows the preview below the editor."""
    form_obj = _form_and_language(public_id, language)
    current = system_emails.current_text(form_obj, language)
    wtform = SystemEmailForm(data=None if request.method == "POST" else current.__dict__)
    action = request.form.get("action", "save")
    status, preview, errors = 200, None, {}
    if request.method == "POST" and wtform.validate_on_submit():
        try:
            if action == "reset":
                done = system_emails.reset(form_obj, language, actor=current_user, ip=request.remote_addr)
                db.session.commit()
                flash(
                    "Back to the default wording." if done else "It already uses the default wording.",
                    "success",
                )
                return redirect(request.path)
            preview = preview_confirmation(form_obj, language, _typed(wtform))
            if action != "preview":
                system_emails.save(
                    form_obj, language, _typed(wtform), actor=current_user, ip=request.remote_addr
                )
                db.session.commit()
                flash(f"Confirmation email in {i18n.language_name(language)} saved.", "success")
                return redirect(request.path)
        except system_emails.EmailRefused as exc:
            db.session.rollback()
            errors, status = exc.errors, 400
    elif request.method == "POST":
        status = 400
    if preview is None and not errors:
        try:
            preview = preview_confirmation(
                form_obj, language, _typed(wtform) if request.method == "POST" else current
            )
        except system_emails.EmailRefused as exc:
            errors = exc.errors
    for name, messages in errors.items():
        if name in wtform:
            wtform[name].errors = list(messages)
    return render_template(
        "admin/forms/emails.html",
        form_obj=form_obj,
        language=language,
        languages=[(code, i18n.language_name(code)) for code in _languages(form_obj)],
        wtform=wtform,
        preview=preview,
        edited=system_emails.edited(form_obj, language),
        merge_tags=system_emails.MERGE_TAGS,
        other_errors=[m for name, messages in errors.items() if name not in wtform for m in messages],
    ), status


@bp.post("/forms/<public_id>/emails/confirmation/<language>/preview.json")
def form_confirmation_email_preview(public_id: str, language: str):
    """The editor's fields rendered as the email (subject, HTML, text), for the live preview as one types."""
    form_obj = _form_and_language(public_id, language)
    wtform = SystemEmailForm()
    try:
        preview = preview_confirmation(form_obj, language, _typed(wtform))
    except system_emails.EmailRefused as exc:
        return jsonify(ok=False, errors=exc.errors), 200
    finally:
        db.session.rollback()  # nothing from a preview is ever stored
    return jsonify(ok=True, subject=preview.subject, html=preview.html, text=preview.text)
