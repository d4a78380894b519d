"""System emails per language: a form's confirmation email and a list's re-confirmation email. One editor
(a tab per language), its live preview and reset, for either owner."""

from collections.abc import Callable

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
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
from mailer.subscriptions.models.lists import MailingList
from mailer.subscriptions.reconfirmation import preview_reconfirmation

Previewer = Callable[..., system_emails.Preview]


class SystemEmailForm(FlaskForm):
    """Subject, text and button of a system email (checked by system_emails.clean)."""

    subject = StringField(lazy_gettext("Subject"))
    body = TextAreaField(lazy_gettext("Text"))
    button_label = StringField(lazy_gettext("Button"))


def _form_and_language(public_id: str, language: str) -> Form:
    form_obj = db.one_or_404(select(Form).where(Form.public_id == public_id))
    if form_obj.deleted_at is not None or language not in system_emails.languages_of(form_obj):
        abort(404)
    return form_obj


def _list_and_language(public_id: str, language: str) -> MailingList:
    mailing_list = db.one_or_404(select(MailingList).where(MailingList.public_id == public_id))
    if mailing_list.deleted_at is not None or language not in system_emails.languages_of(mailing_list):
        abort(404)
    return mailing_list


def _typed(wtform: SystemEmailForm) -> system_emails.EmailText:
    return system_emails.EmailText(
        wtform.subject.data or "", wtform.body.data or "", wtform.button_label.data or ""
    )


def _preview(
    previewer: Previewer, owner: system_emails.Owner, language: str, text: system_emails.EmailText
) -> system_emails.Preview:
    """The email as typed; the words are checked first, so a refusal speaks the page's language (the preview
    itself is rendered in the email's)."""
    system_emails.clean(text, system_emails.kind_of(owner))
    return previewer(owner, language, text)


def _editor(
    owner: system_emails.Owner, language: str, previewer: Previewer, endpoint: str, saved: Callable[..., str]
):
    """Edit (or reset) the owner's email in one of its languages; POST without JavaScript with
    action=preview shows the preview below the editor."""
    current = system_emails.current_text(owner, language)
    wtform = SystemEmailForm(data=None if request.method == "POST" else current.__dict__)
    action = request.form.get("action", "save")
    status, preview, errors = 200, None, {}
    if request.method == "POST" and wtform.validate_on_submit():
        try:
            if action == "reset":
                done = system_emails.reset(owner, language, actor=current_user, ip=request.remote_addr)
                db.session.commit()
                flash(
                    gettext("Back to the default wording.")
                    if done
                    else gettext("It already uses the default wording."),
                    "success",
                )
                return redirect(request.path)
            preview = _preview(previewer, owner, language, _typed(wtform))
            if action != "preview":
                system_emails.save(
                    owner, language, _typed(wtform), actor=current_user, ip=request.remote_addr
                )
                db.session.commit()
                flash(saved(language=i18n.language_name(language)), "success")
                return redirect(request.path)
        except system_emails.EmailRefused as exc:
            db.session.rollback()
            errors, status = exc.errors, 400
    elif request.method == "POST":
        status = 400
    if preview is None and not errors:
        try:
            typed = _typed(wtform) if request.method == "POST" else current
            preview = _preview(previewer, owner, language, typed)
        except system_emails.EmailRefused as exc:
            errors = exc.errors
    for name, messages in errors.items():
        if name in wtform:
            wtform[name].errors = list(messages)
    is_form = isinstance(owner, Form)
    return render_template(
        "admin/forms/emails.html",
        owner=owner,
        form_obj=owner if is_form else None,
        mailing_list=None if is_form else owner,
        email_name=gettext("Confirmation email") if is_form else gettext("Re-confirmation email"),
        language=language,
        languages=[
            (code, i18n.language_name(code), url_for(endpoint, public_id=owner.public_id, language=code))
            for code in system_emails.languages_of(owner)
        ],
        preview_url=url_for(f"{endpoint}_preview", public_id=owner.public_id, language=language),
        wtform=wtform,
        preview=preview,
        edited=system_emails.edited(owner, language),
        merge_tags=system_emails.merge_tags(system_emails.kind_of(owner)),
        other_errors=[m for name, messages in errors.items() if name not in wtform for m in messages],
    ), status


def _preview_json(owner: system_emails.Owner, language: str, previewer: Previewer):
    """The editor's fields rendered as the email (subject, HTML, text), for the live preview as one types."""
    wtform = SystemEmailForm()
    try:
        preview = _preview(previewer, owner, language, _typed(wtform))
    except system_emails.EmailRefused as exc:
        return jsonify(ok=False, errors=exc.errors), 200
    finally:
        db.session.rollback()  # nothing from a preview is ever stored
    return jsonify(ok=True, subject=preview.subject, html=preview.html, text=preview.text)


@bp.route("/forms/<public_id>/emails/confirmation/<language>", methods=["GET", "POST"])
def form_confirmation_email(public_id: str, language: str):
    """Edit (or reset) the confirmation email of a form in one of its languages."""
    form_obj = _form_and_language(public_id, language)
    endpoint = "admin.form_confirmation_email"
    return _editor(form_obj, language, preview_confirmation, endpoint, _confirmation_saved)


def _confirmation_saved(language: str) -> str:
    return gettext("Confirmation email in %(language)s saved.", language=language)


def _reconfirmation_saved(language: str) -> str:
    return gettext("Re-confirmation email in %(language)s saved.", language=language)


@bp.post("/forms/<public_id>/emails/confirmation/<language>/preview.json")
def form_confirmation_email_preview(public_id: str, language: str):
    """The confirmation email as typed, for the live preview."""
    return _preview_json(_form_and_language(public_id, language), language, preview_confirmation)


@bp.route("/lists/<public_id>/emails/reconfirmation/<language>", methods=["GET", "POST"])
def list_reconfirmation_email(public_id: str, language: str):
    """Edit (or reset) the re-confirmation (re-permission) email of a list in one of the five languages."""
    mailing_list = _list_and_language(public_id, language)
    endpoint = "admin.list_reconfirmation_email"
    return _editor(mailing_list, language, preview_reconfirmation, endpoint, _reconfirmation_saved)


@bp.post("/lists/<public_id>/emails/reconfirmation/<language>/preview.json")
def list_reconfirmation_email_preview(public_id: str, language: str):
    """The re-confirmation email as typed, for the live preview."""
    return _preview_json(_list_and_language(public_id, language), language, preview_reconfirmation)
