"""Contact imports: upload a CSV, choose the legal basis, map its columns, watch progress, download the
rejected rows."""

from flask import abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext, lazy_gettext, ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from wtforms import RadioField, SelectField, TextAreaField
from wtforms.validators import Length

from mailer import audit
from mailer.admin.blueprint import bp
from mailer.admin.language import job_status_name
from mailer.contacts.models.imports import ContactImport
from mailer.core.extensions import db
from mailer.core.sentences import shown
from mailer.core.web import accepts_upload
from mailer.subscriptions import imports
from mailer.subscriptions.lists import active_lists
from mailer.subscriptions.models.lists import MailingList


class ImportForm(FlaskForm):
    file = FileField(
        lazy_gettext("CSV file (first line names the columns; one must be “email”, “name” is optional)")
    )
    list_id = SelectField(lazy_gettext("Import into list"), coerce=int)
    mode = RadioField(
        lazy_gettext("Legal basis"),
        default="double_opt_in",
        choices=[
            (
                "double_opt_in",
                lazy_gettext(
                    "Ask each person by double opt-in (recommended): they are added only after confirming"
                ),
            ),
            ("has_consent", lazy_gettext("They already consented elsewhere, and I can prove it")),
        ],
    )
    consent_statement = TextAreaField(
        lazy_gettext(
            "Where and how did they consent? (required for the second option; stored as proof for each "
            "person)"
        ),
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
    """Upload a file (streamed to disk and checked whole); its columns are mapped next."""
    form = ImportForm()
    form.list_id.choices = [(lst.id, lst.name) for lst in active_lists()]
    if form.validate_on_submit():
        upload = form.file.data
        req = imports.ImportRequest(
            filename=getattr(upload, "filename", "") or "",
            source=upload.stream if upload else None,
            mailing_list=db.session.get(MailingList, form.list_id.data),
            mode=form.mode.data,
            consent_statement=form.consent_statement.data or "",
        )
        try:
            job = imports.create_import(req, current_user.id)
        except imports.ImportRefusedError as exc:
            db.session.rollback()
            flash(shown(exc), "danger")
        else:
            db.session.commit()
            return redirect(url_for("admin.import_mapping", public_id=job.public_id))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/imports/new.html", form=form), status


@bp.route("/imports/<public_id>/mapping", methods=["GET", "POST"])
def import_mapping(public_id: str):
    """Say what each column is (a built-in field, a custom field, or ignored), with the first rows shown."""
    job = _job(public_id)
    if job.status != "mapping" or job.layout is None:
        return redirect(url_for("admin.import_show", public_id=job.public_id))
    form = FlaskForm()
    columns, mapping = job.layout["columns"], job.layout["mapping"]
    status = 200
    if request.method == "POST" and form.validate_on_submit():
        mapping = [request.form.get(f"column-{n}", "") for n in range(len(columns))]
        try:
            imports.confirm_mapping(job, mapping)
        except imports.ImportRefusedError as exc:
            db.session.rollback()
            job = _job(public_id)
            flash(shown(exc), "danger")
            status = 400
        else:
            audit.record(
                "contacts.import",
                "import",
                job.public_id,
                details={
                    "list": job.mailing_list.public_id,
                    "rows": job.total_rows,
                    "mode": job.mode,
                    "mapping": dict(zip(columns, mapping, strict=True)),
                },
                actor=current_user,
                ip=request.remote_addr,
            )
            db.session.commit()
            flash(
                ngettext("%(num)d row queued for import.", "%(num)d rows queued for import.", job.total_rows),
                "success",
            )
            return redirect(url_for("admin.import_show", public_id=job.public_id))
    elif request.method == "POST":
        status = 400
    return render_template(
        "admin/imports/mapping.html",
        job=job,
        form=form,
        columns=list(zip(columns, mapping, strict=True)),
        choices=imports.mapping_choices(),
        rows=imports.preview(job),
    ), status


def _audit(job: ContactImport, action: str) -> None:
    details = {"processed": job.processed_rows, "rows": job.total_rows}
    audit.record(action, "import", job.public_id, details=details, actor=current_user, ip=request.remote_addr)


@bp.post("/imports/<public_id>/cancel")
def import_cancel(public_id: str):
    """Drop an import that has not finished (and its file); a running one stops after the batches in
    flight."""
    job = _job(public_id)
    started = job.status != "mapping"
    try:
        imports.cancel(job)
    except imports.ImportRefusedError as exc:
        flash(shown(exc), "danger")
        if not started:
            return redirect(url_for("admin.imports_index"))
        return _show(job, 409)
    if started:
        _audit(job, "contacts.import_cancel")
    db.session.commit()
    if job.status == "cancelling":
        flash(
            gettext("The import stops after the batches in progress; the rows imported so far stay."),
            "success",
        )
        return redirect(url_for("admin.import_show", public_id=job.public_id))
    if not started:
        flash(gettext("Import cancelled; the uploaded file was deleted."), "success")
        return redirect(url_for("admin.imports_index"))
    flash(
        gettext("Import cancelled; the rows imported so far stay, the uploaded file was deleted."), "success"
    )
    return redirect(url_for("admin.import_show", public_id=job.public_id))


@bp.post("/imports/<public_id>/resume")
def import_resume(public_id: str):
    """Go on with an import stopped by a fault (or whose worker died) after its last committed batch."""
    job = _job(public_id)
    try:
        imports.resume(job)
    except imports.ImportRefusedError as exc:
        flash(shown(exc), "danger")
        return _show(job, 409)
    _audit(job, "contacts.import_resume")
    db.session.commit()
    flash(gettext("Import resumed after the rows already imported."), "success")
    return redirect(url_for("admin.import_show", public_id=job.public_id))


@bp.get("/imports/<public_id>/rejected.csv")
def import_report(public_id: str):
    """The rows the import rejected, with the reason, as CSV (recorded in the audit log: it holds
    addresses)."""
    job = _job(public_id)
    if not imports.has_report(job):
        abort(404)
    audit.record(
        "contacts.import_report",
        "import",
        job.public_id,
        details={"rows": sum(job.skipped.get(code, 0) for code in imports.REJECT_CODES)},
        actor=current_user,
        ip=request.remote_addr,
    )
    db.session.commit()
    return send_file(
        imports.report_path(job),
        mimetype="text/csv",
        as_attachment=True,
        download_name=f"rejected-rows-{job.public_id}.csv",
        max_age=0,
    )


@bp.get("/imports/<public_id>")
def import_show(public_id: str):
    """Progress and outcome of one import (updates itself with JavaScript)."""
    job = _job(public_id)
    if job.status == "mapping":
        return redirect(url_for("admin.import_mapping", public_id=job.public_id))
    return _show(job)


def _show(job: ContactImport, status: int = 200):
    return render_template(
        "admin/imports/show.html",
        job=job,
        progress=imports.progress(job),
        reasons=imports.SKIP_REASONS,
        has_report=imports.has_report(job),
        can_resume=imports.can_resume(job),
        can_cancel=imports.can_cancel(job),
    ), status


@bp.get("/imports/<public_id>/progress")
def import_progress(public_id: str):
    """Progress as JSON for the live progress bar."""
    progress = imports.progress(_job(public_id))
    return jsonify({**progress, "status_label": job_status_name(progress["status"])})
