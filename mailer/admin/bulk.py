"""Bulk actions over contacts: review what will happen, start the job, watch its progress."""

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from mailer.admin.blueprint import bp
from mailer.admin.forms import BulkForm
from mailer.bulk import operations as bulk
from mailer.core.extensions import db
from mailer.segments.conditions import SegmentError
from mailer.segments.operations import segment_by_public_id


def _job(public_id: str) -> bulk.BulkJob:
    job = bulk.job_by_public_id(public_id[:32])
    if job is None:
        abort(404)
    return job


@bp.route("/contacts/bulk", methods=["GET", "POST"])
def bulk_review():
    """First press: say what will happen to how many contacts; second press (`start`): queue the job. The
    address opened again (a reload, a bookmark) leads back to the contacts."""
    if request.method == "GET":
        return redirect(url_for("admin.contacts"))
    form = BulkForm()
    if not form.validate_on_submit():
        return render_template(
            "admin/contacts/bulk_confirm.html", problem="The form expired. Go back and try again.", form=form
        ), 400
    action = request.form.get("action", "")[:20]
    argument = request.form.get("tag", "")[:200]
    scope = request.form.get("scope", "picked")
    segment = None
    if scope == "segment":
        segment = segment_by_public_id(request.form.get("segment", "")[:32])
        if segment is None:
            return _refused(form, "That segment does not exist (any more).", 404)
    try:
        picked = [] if segment else bulk.picked_contacts(request.form.getlist("contact"))
        if "start" in request.form:
            job = bulk.start_job(action, argument, picked, segment, current_user)
            db.session.commit()
            flash(
                f"Started: {bulk.ACTIONS[job.action].lower()} “{job.argument}” on {job.total} contacts.",
                "success",
            )
            return redirect(url_for("admin.bulk_job_show", public_id=job.public_id))
        name, total = bulk.plan(action, argument, picked, segment)
    except (bulk.BulkError, SegmentError) as error:
        return _refused(form, str(error), 400)
    return render_template(
        "admin/contacts/bulk_confirm.html",
        form=form,
        action=action,
        label=bulk.ACTIONS[action],
        name=name,
        total=total,
        picked=picked,
        segment=segment,
        problem="",
    )


def _refused(form: BulkForm, problem: str, code: int):
    return render_template("admin/contacts/bulk_confirm.html", form=form, problem=problem), code


@bp.get("/contacts/bulk/<public_id>")
def bulk_job_show(public_id: str):
    """Progress and outcome of one bulk action (refresh without JavaScript; polls with it)."""
    job = _job(public_id)
    return render_template(
        "admin/contacts/bulk_show.html", job=job, label=bulk.ACTIONS[job.action], progress=bulk.progress(job)
    )


@bp.get("/contacts/bulk/<public_id>/progress")
def bulk_job_progress(public_id: str):
    """Progress as JSON for the live progress bar."""
    return jsonify(bulk.progress(_job(public_id)))
