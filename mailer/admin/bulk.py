"""Bulk actions over contacts: review what will happen, start the job, watch its progress, list the jobs."""

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from mailer.admin.blueprint import bp
from mailer.admin.contacts import read_search
from mailer.admin.forms import BulkForm
from mailer.admin.language import job_status_name
from mailer.bulk import operations as bulk
from mailer.core.extensions import db
from mailer.segments.conditions import SegmentError
from mailer.segments.operations import segment_by_public_id
from mailer.subscriptions import reconfirmation

TEMPLATE = "admin/contacts/bulk_confirm.html"


def _job(public_id: str) -> bulk.BulkJob:
    job = bulk.job_by_public_id(public_id[:32])
    if job is None:
        abort(404)
    return job


@bp.route("/contacts/bulk", methods=["GET", "POST"])
def bulk_review():
    """Editors' actions (tag, untag, add to or remove from a list, ask to re-confirm a list). First press: say
    what will happen to how many contacts (and ask for the consent basis of a list addition, the deadline of a
    re-confirmation); second press (`start`): queue the job.
    The address opened again (a reload, a bookmark) leads back to the contacts."""
    if request.method == "GET":
        return redirect(url_for("admin.contacts"))
    action = request.form.get("action", "")[:20]
    if action not in bulk.ACTIONS:
        return _refused(BulkForm(), gettext("Choose what to do with the selected contacts."), 400)
    return _review(action)


@bp.route("/contacts/bulk/erase", methods=["GET", "POST"])
def bulk_erase():
    """Owners and privacy officers: erase the selected contacts by anonymisation, each exactly as the contact
    page's Erase does; the review asks for a reason and the typed words ERASE and the count."""
    if request.method == "GET":
        return redirect(url_for("admin.contacts"))
    return _review(bulk.ERASE)


def _options() -> bulk.Options:
    return bulk.Options(
        basis=request.form.get("basis", "")[:20],
        statement=request.form.get("statement", "")[:6000],
        reason=request.form.get("reason", "")[:1000],
        confirmation=request.form.get("confirm", "")[:40],
        days=request.form.get("days", "")[:10],
    )


def _review(action: str):
    form = BulkForm()
    if not form.validate_on_submit():
        return render_template(
            TEMPLATE, problem=gettext("The form expired. Go back and try again."), form=form
        ), 400
    argument = request.form.get("list" if action in bulk.LIST_ACTIONS else "tag", "")[:200]
    scope = request.form.get("scope", "picked")
    segment, matching, search = None, None, None
    if scope == "segment":
        segment = segment_by_public_id(request.form.get("segment", "")[:32])
        if segment is None:
            return _refused(form, gettext("That segment does not exist (any more)."), 404)
    elif scope == "matching":
        search = read_search(request.form, prefix="match_")
        if search.problem:
            return _refused(form, search.problem, search.code)
        matching = bulk.Matching(search.matching(), search.described())
    options = _options()
    problem = ""
    try:
        picked = (
            [] if scope in ("segment", "matching") else bulk.picked_contacts(request.form.getlist("contact"))
        )
        if "start" in request.form:
            try:
                job = bulk.start_job(
                    action, argument, picked, segment, current_user, options=options, matching=matching
                )
            except bulk.BulkError as error:  # a missing basis, reason or confirmation: ask again
                db.session.rollback()
                problem = str(error)
            else:
                db.session.commit()
                subject = bulk.subject(job)
                what = f"{subject[:1].lower()}{subject[1:]}"
                flash(gettext("Started: %(what)s on %(num)d contacts.", what=what, num=job.total), "success")
                return redirect(url_for("admin.bulk_job_show", public_id=job.public_id))
        planned = bulk.plan(action, argument, picked, segment, matching=matching)
    except (bulk.BulkError, SegmentError) as error:
        return _refused(form, str(error), 400)
    return render_template(
        TEMPLATE,
        form=form,
        action=action,
        label=bulk.LABELS[action],
        planned=planned,
        picked=picked,
        segment=segment,
        search=search,
        options=options,
        bases=bulk.BASES,
        days=(reconfirmation.MIN_DAYS, reconfirmation.MAX_DAYS, reconfirmation.DEFAULT_DAYS),
        problem="",
        retry=problem,
    ), (400 if problem else 200)


def _refused(form: BulkForm, problem: str, code: int):
    return render_template(TEMPLATE, form=form, problem=problem), code


@bp.get("/contacts/bulk/<public_id>")
def bulk_job_show(public_id: str):
    """Progress and outcome of one bulk action (refresh without JavaScript; polls with it)."""
    job = _job(public_id)
    return render_template(
        "admin/contacts/bulk_show.html",
        job=job,
        subject=bulk.subject(job),
        selection=bulk.described(job),
        progress=bulk.progress(job),
    )


@bp.get("/contacts/bulk/<public_id>/progress")
def bulk_job_progress(public_id: str):
    """Progress as JSON for the live progress bar."""
    progress = bulk.progress(_job(public_id))
    return jsonify({**progress, "status_label": job_status_name(progress["status"])})


@bp.get("/jobs")
def bulk_jobs():
    """Every recent bulk job: what, on whom, state and progress, who started it and when, the outcome."""
    jobs = bulk.recent_jobs()
    return render_template(
        "admin/contacts/bulk_jobs.html",
        jobs=[(job, bulk.subject(job), bulk.described(job), bulk.progress(job)) for job in jobs],
    )
