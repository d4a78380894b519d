"""Privacy settings: the controller, retention, recipients,
custom fields, the notice, Art. 30 and retention runs."""

from flask import abort, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select

from mailer import audit
from mailer.admin.blueprint import bp
from mailer.admin.privacy_forms import ActionForm, FieldForm, RecipientForm, SettingsForm
from mailer.consent.notices import notice_versions
from mailer.contacts import fields
from mailer.contacts.models.fields import ContactField
from mailer.core import i18n
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.core.sentences import shown
from mailer.core.web import db_int
from mailer.privacy import notice, retention, ropa
from mailer.privacy import settings as privacy_settings
from mailer.privacy.models.settings import DataRecipient
from mailer.privacy.settings import LEGAL_BASES, RETENTION_CATEGORIES, retention_category_name


def _parse_other_uses(text: str) -> list[dict]:
    """Lines of 'name | legal basis | description' into the stored list."""
    uses = []
    for number, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|", 2)]
        if len(parts) < 2 or parts[1] not in LEGAL_BASES:
            raise PrivacyError(
                gettext(
                    "Line %(num)d of the other uses: write “name | legal basis | description”, with the "
                    "legal basis one of %(bases)s.",
                    num=number,
                    bases=", ".join(LEGAL_BASES),
                )
            )
        uses.append(
            {
                "name": parts[0][:200],
                "legal_basis": parts[1],
                "description": parts[2] if len(parts) > 2 else "",
            }
        )
    return uses


def _format_other_uses(uses: list[dict]) -> str:
    return "\n".join(f"{u['name']} | {u['legal_basis']} | {u.get('description', '')}" for u in uses or [])


def _categories() -> dict[str, tuple[int, str]]:
    """Retention category -> (default days, its name in the viewer's language)."""
    return {key: (days, retention_category_name(key)) for key, (days, _) in RETENTION_CATEGORIES.items()}


@bp.route("/settings/privacy", methods=["GET", "POST"])
def settings_privacy():
    """Who the controller is, lifetimes, warnings and the notice's wording."""
    row = privacy_settings.get_settings()
    form = SettingsForm(obj=row)
    if request.method == "GET":
        for category in RETENTION_CATEGORIES:
            getattr(form, category).data = privacy_settings.retention_days(category)
        form.other_uses.data = _format_other_uses(row.other_uses)
    if form.validate_on_submit():
        data = privacy_settings.SettingsInput(
            **{
                k: (getattr(form, k).data or "")
                for k in (
                    "controller_name",
                    "controller_address",
                    "controller_email",
                    "dpo_name",
                    "dpo_email",
                    "authority_name",
                    "authority_url",
                    "home_country",
                    "automated_decisions",
                    "provision_consequences",
                    "security_measures",
                )
            }
        )
        data.retention = {c: getattr(form, c).data for c in RETENTION_CATEGORIES}
        data.repermission_enabled = form.repermission_enabled.data
        data.repermission_grace_days, data.reminder_days = (
            form.repermission_grace_days.data,
            form.reminder_days.data,
        )
        try:
            data.other_uses = _parse_other_uses(form.other_uses.data)
            _, changed = privacy_settings.save_settings(data, current_user.id)
        except PrivacyError as exc:
            db.session.rollback()
            flash(shown(exc), "danger")
        else:
            audit.record(
                "settings.update",
                "settings",
                "privacy",
                {"changed": changed},
                actor=current_user,
                ip=request.remote_addr,
            )
            published = notice.publish_every_language()
            db.session.commit()
            flash(
                gettext(
                    "Settings saved. The privacy notice is at version %(version)s.", version=published.version
                ),
                "success",
            )
            return redirect(url_for("admin.settings_privacy"))
    db.session.commit()  # the defaults row, created on first visit
    return render_template(
        "admin/privacy/settings.html", form=form, categories=_categories(), bases=LEGAL_BASES
    ), 400 if form.errors or request.method == "POST" else 200


@bp.get("/settings/recipients")
def settings_recipients():
    """Everyone data is shared with (processors, other controllers, integrations)."""
    return render_template(
        "admin/privacy/recipients.html", recipients=privacy_settings.recipients(active_only=False)
    )


@bp.route("/settings/recipients/new", methods=["GET", "POST"])
@bp.route("/settings/recipients/<public_id>", methods=["GET", "POST"])
def settings_recipient_edit(public_id: str | None = None):
    """Create or edit a recipient."""
    recipient = None
    if public_id is not None:
        recipient = db.one_or_404(select(DataRecipient).where(DataRecipient.public_id == public_id))
    form = RecipientForm(obj=recipient)
    if form.validate_on_submit():
        data = privacy_settings.RecipientInput(
            **{
                k: getattr(form, k).data
                for k in (
                    "name",
                    "role",
                    "purpose",
                    "data_categories",
                    "country",
                    "outside_eea",
                    "safeguard",
                    "contact",
                    "notify_changes",
                    "active",
                )
            }
        )
        try:
            saved = privacy_settings.save_recipient(data, recipient)
        except PrivacyError as exc:
            flash(shown(exc), "danger")
        else:
            audit.record(
                "settings.recipient",
                "recipient",
                saved.public_id,
                {"name": saved.name},
                actor=current_user,
                ip=request.remote_addr,
            )
            notice.publish_every_language()
            db.session.commit()
            flash(gettext("Recipient saved; the privacy notice lists it."), "success")
            return redirect(url_for("admin.settings_recipients"))
    return render_template("admin/privacy/recipient_edit.html", form=form, recipient=recipient), (
        400 if request.method == "POST" else 200
    )


@bp.route("/settings/fields", methods=["GET", "POST"])
def settings_fields():
    """Custom contact fields and their categories; criminal-record fields are refused (Art. 10)."""
    form = FieldForm()
    if form.validate_on_submit():
        try:
            field = fields.define_field(
                form.key.data,
                form.label.data,
                form.category.data,
                form.help_text.data or "",
                form.quasi_identifier.data,
                form.value_type.data or "text",
                form.choices.data or "",
            )
        except PrivacyError as exc:
            db.session.rollback()
            flash(shown(exc), "danger")
        else:
            audit.record(
                "settings.field",
                "field",
                field.key,
                {"category": field.category, "created": True},
                actor=current_user,
                ip=request.remote_addr,
            )
            db.session.commit()
            flash(gettext("Field “%(field)s” created.", field=field.label), "success")
            return redirect(url_for("admin.settings_fields"))
    all_fields = db.session.execute(select(ContactField).order_by(ContactField.label)).scalars().all()
    return render_template(
        "admin/privacy/fields.html",
        form=form,
        fields=all_fields,
        action_form=ActionForm(),
        type_names=fields.TYPE_NAMES,
    ), (400 if request.method == "POST" else 200)


@bp.post("/settings/fields/<key>/toggle")
def settings_field_toggle(key: str):
    """Retire a field from forms and views (its values stay until erased), or bring it back."""
    field = db.one_or_404(select(ContactField).where(ContactField.key == key))
    if ActionForm().validate_on_submit():
        field.active = not field.active
        audit.record(
            "settings.field",
            "field",
            field.key,
            {"active": field.active},
            actor=current_user,
            ip=request.remote_addr,
        )
        db.session.commit()
        flash(
            gettext("Field “%(field)s” activated.", field=field.label)
            if field.active
            else gettext("Field “%(field)s” retired.", field=field.label),
            "success",
        )
    return redirect(url_for("admin.settings_fields"))


@bp.get("/settings/notice")
def settings_notice():
    """The privacy notice of one language (?language=, English by default) as generated now, or one of its
    published versions (?version=N), with that language's versions and a switch to the other languages."""
    language = i18n.supported(request.args.get("language")) or i18n.DEFAULT_LANGUAGE
    current = notice.current_notice(language)
    version = request.args.get("version", type=db_int)
    shown = notice.notice_version(version, language) if version else current
    db.session.commit()
    if shown is None:
        abort(404)
    choices = i18n.language_choices()
    languages = [(code, name, url_for("admin.settings_notice", language=code)) for code, name in choices]
    return render_template(
        "admin/privacy/notice.html",
        notice=shown,
        latest=current,
        language=language,
        languages=languages,
        versions=notice_versions(notice.notice_key(language)),
    )


@bp.get("/settings/ropa")
def settings_ropa():
    """The record of processing activities (Art. 30)."""
    record = ropa.record_of_processing()
    db.session.commit()
    return render_template("admin/privacy/ropa.html", record=record)


@bp.get("/settings/ropa.json")
def settings_ropa_json():
    record = ropa.record_of_processing()
    db.session.commit()
    response = jsonify(record)
    response.headers["Content-Disposition"] = 'attachment; filename="record-of-processing.json"'
    return response


@bp.get("/settings/ropa.csv")
def settings_ropa_csv():
    response = make_response(ropa.ropa_csv())
    db.session.commit()
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="record-of-processing.csv"'
    return response


@bp.get("/retention")
def retention_report():
    """A dry run: what the retention job would remove now, and why."""
    report = retention.run_retention(dry_run=True)
    db.session.commit()
    return render_template(
        "admin/privacy/retention.html", report=report, form=ActionForm(), categories=_categories()
    )


@bp.post("/retention/run")
def retention_run():
    """Apply retention now instead of waiting for the scheduled job."""
    if ActionForm().validate_on_submit():
        report = retention.run_retention()
        audit.record(
            "retention.run",
            "retention",
            "",
            {"by": "staff", "total": report.total},
            actor=current_user,
            ip=request.remote_addr,
        )
        db.session.commit()
        flash(
            gettext("Retention applied: %(num)d records removed or anonymised.", num=report.total), "success"
        )
    return redirect(url_for("admin.retention_report"))
