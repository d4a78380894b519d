"""Contact imports: upload a CSV, choose the legal basis, watch progress."""

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from wtforms import RadioField, SelectField, TextAreaField
from wtforms.validators import Length

from mailer.admin.blueprint import bp
from mailer.audit.models import AuditEvent
from mailer.contacts.models.imports import ContactImport
from mailer.core.extensions import db
from mailer.core.web import accepts_upload
from mailer.subscriptions import imports
from mailer.subscriptions.lists import all_lists
from mailer.subscriptions.models.lists import MailingList


class ImportForm(FlaskForm):
    file = FileField("CSV file (first line names the columns; one must be “email”, “name” is optional)")
    list_id = SelectField("Import into list", coerce=int)
    mode = RadioField(
        "Legal basis",
        default="double_opt_in",
        choices=[
            (
                "double_opt_in",
                "Ask each person by double opt-in (recommended): they are added only after confirming",
            ),
            ("has_consent", "They already consented elsewhere, and I can prove it"),
        ],
    )
    consent_statement = TextAreaField(
        "Where and how did they consent? (required for the second option; stored as proof for each person)",
        validators=[Length(max=5000)],
    )


def _job(public_id: str) -> ContactImport:
    return db.one_or_404(select(ContactImport).where(ContactImport.public_id == public_id))


@bp.get("/imports")
def imports_index():
    """Recent imports."""
    jobs = (
        db.session.execute(select(ContactImport).order_by(ContactImport.id.desc()).limit(100)).scalars().all()
    )
    return render_template("admin/imports/index.html", jobs=jobs)


@bp.route("/imports/new", methods=["GET", "POST"])
@accepts_upload("IMPORT_MAX_MB", "file")
def import_new():
    """Upload a file; it is checked completely before anything is imported."""
    form = ImportForm()
    form.list_id.choices = [(lst.id, lst.name) for lst in all_lists()]
    if form.validate_on_submit():
        upload = form.file.data
        req = imports.ImportRequest(
            filename=getattr(upload, "filename", "") or "",
            data=upload.read() if upload else b"",
            mailing_list=db.session.get(MailingList, form.list_id.data),
            mode=form.mode.data,
            consent_statement=form.consent_statement.data or "",
        )
        try:
            job = imports.create_import(req, current_user.id)
        except imports.ImportRefusedError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.add(
                AuditEvent(
                    actor_id=current_user.id,
                    action="contacts.import",
                    target_type="import",
                    target_id=job.public_id,
                    ip=request.remote_addr,
                    details={"list": job.mailing_list.public_id, "rows": job.total_rows, "mode": job.mode},
                )
            )
            db.session.commit()
            flash(f"{job.total_rows} rows queued for import.", "success")
            return redirect(url_for("admin.import_show", public_id=job.public_id))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/imports/new.html", form=form), status


@bp.get("/imports/<public_id>")
def import_show(public_id: str):
    """Progress and outcome of one import (updates itself with JavaScript)."""
    job = _job(public_id)
    return render_template("admin/imports/show.html", job=job, progress=imports.progress(job))


@bp.get("/imports/<public_id>/progress")
def import_progress(public_id: str):
    """Progress as JSON for the live progress bar."""
    return jsonify(imports.progress(_job(public_id)))
