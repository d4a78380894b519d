"""Settings → Organisation: the name, postal address, sender and reply-to every message and page uses."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField, StringField, TextAreaField

from mailer.admin.blueprint import bp
from mailer.core.extensions import db
from mailer.organisation import settings as organisation_settings

LABELS = {
    "name": "Organisation name",
    "postal_address": "Postal address",
    "from_name": "Sender name",
    "from_email": "Sender address",
    "reply_to": "Reply-to address (optional)",
}
HELP = {
    "name": "Shown on every page and email.",
    "postal_address": "Printed in every marketing email's footer (the law requires it).",
    "from_name": "The name people see as the sender (a campaign can use its own).",
    "from_email": "Mail is sent from this address; set up DKIM for its domain under Deliverability.",
    "reply_to": "Where replies go, if not to the sender address.",
}


class OrganisationForm(FlaskForm):
    """The fields of Settings → Organisation (checked by the operation, which names each problem)."""

    name = StringField(LABELS["name"])
    postal_address = TextAreaField(LABELS["postal_address"])
    from_name = StringField(LABELS["from_name"])
    from_email = EmailField(LABELS["from_email"])
    reply_to = EmailField(LABELS["reply_to"])


def _overridden_fields() -> dict[str, str]:
    """Form field -> the environment variable that sets it."""
    environment = organisation_settings.set_by_environment()
    return {
        field: environment[setting]
        for field, setting in organisation_settings.OVERRIDES_BY_FIELD.items()
        if setting in environment
    }


@bp.route("/organisation", methods=["GET", "POST"])
def organisation_settings_page():
    """Who sends: filled in once on a fresh install; environment variables, when set, win."""
    overridden = _overridden_fields()
    form = OrganisationForm(obj=organisation_settings.stored() if request.method == "GET" else None)
    stored = organisation_settings.stored()
    for name in overridden:
        form[name].render_kw = {"disabled": True}
        form[name].data = getattr(stored, name)
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            data = organisation_settings.OrganisationInput(**{k: form[k].data or "" for k in LABELS})
            try:
                changed = organisation_settings.save(data, actor=current_user, ip=request.remote_addr)
            except organisation_settings.SettingsRefused as exc:
                db.session.rollback()
                for name, message in exc.errors.items():
                    form[name].errors = [message]
            else:
                db.session.commit()
                flash("Organisation settings saved." if changed else "Nothing changed.", "success")
                return redirect(url_for("admin.organisation_settings_page"))
    return render_template("admin/organisation.html", form=form, help=HELP, overridden=overridden), status
