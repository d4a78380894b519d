"""API keys for integrations: create (the secret is shown once), list, revoke. Owners and admins only."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from mailer import audit
from mailer.admin.blueprint import bp
from mailer.core.extensions import db
from mailer.core.sentences import shown
from mailer.staff import api_keys as key_service


class ApiKeyForm(FlaskForm):
    name = StringField(
        lazy_gettext("Name (which integration uses it)"),
        validators=[DataRequired(), Length(max=120)],
        render_kw={"autofocus": True},
    )
    role = SelectField(
        lazy_gettext("Access"),
        choices=[
            ("read_only", "Read only — lists, contacts, consent history, campaigns"),
            ("read_write", "Read and write — also sign-ups, contact edits and unsubscribes"),
        ],
    )


@bp.get("/api-keys")
def api_keys():
    """Every key with its prefix, access, creator and last use."""
    api_base = request.host_url.rstrip("/") + current_app.extensions.get("mailer.api_prefix", "")
    return render_template(
        "admin/api_keys/index.html",
        keys=key_service.all_keys(),
        api_base=api_base,
        role_labels=key_service.ROLE_LABELS,
    )


@bp.route("/api-keys/new", methods=["GET", "POST"])
def api_key_new():
    """Create a key; the page that answers is the only place its secret is ever shown."""
    form = ApiKeyForm()
    if form.validate_on_submit():
        try:
            key, secret = key_service.create_key(form.name.data, form.role.data, current_user)
        except key_service.ApiKeyError as exc:
            flash(shown(exc), "danger")
        else:
            audit.record(
                "api_key.create",
                "api_key",
                key.prefix,
                {"name": key.name, "role": key.role},
                actor=current_user,
                ip=request.remote_addr,
            )
            db.session.commit()
            # Rendered, not redirected: the secret must not travel through the session cookie or a flash
            # message.
            return render_template(
                "admin/api_keys/created.html", key=key, secret=secret, role_labels=key_service.ROLE_LABELS
            )
    return render_template("admin/api_keys/new.html", form=form), 400 if form.errors else 200


@bp.post("/api-keys/<prefix>/revoke")
def api_key_revoke(prefix: str):
    """Revoke a key at once; integrations using it get 401 from then on."""
    key = key_service.key_by_prefix(prefix)
    if key is None:
        abort(404)
    if key_service.revoke_key(key, current_user):
        audit.record(
            "api_key.revoke",
            "api_key",
            key.prefix,
            {"name": key.name},
            actor=current_user,
            ip=request.remote_addr,
        )
        db.session.commit()
        flash(
            f"Key “{key.name}” ({key.prefix}) revoked. Requests with it are refused from now on.", "success"
        )
    else:
        flash("That key was already revoked.", "info")
    return redirect(url_for("admin.api_keys"))
