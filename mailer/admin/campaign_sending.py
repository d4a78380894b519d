"""A campaign's page: test send, compliance preview, send or schedule, live progress, pause/resume/cancel."""

import re

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_datetime, gettext, ngettext
from flask_login import current_user

from mailer import audit
from mailer.admin import campaign_ab
from mailer.admin.blueprint import bp
from mailer.admin.campaign_forms import ActionForm, ScheduleForm, TestSendForm
from mailer.admin.campaigns import EDITOR_CSP, campaign_by_public_id, render_preview
from mailer.admin.language import campaign_status_name
from mailer.campaigns import alerts as campaign_alerts
from mailer.campaigns import drafts as drafts
from mailer.campaigns import eligibility, states
from mailer.campaigns import lifecycle as campaign_service
from mailer.campaigns import relay_wait as relay_wait_alerts
from mailer.campaigns.models import Campaign, CampaignStatus
from mailer.contacts.operations import AddressError, normalise_email
from mailer.core import test_sends
from mailer.core.extensions import db
from mailer.core.sentences import shown
from mailer.delivery import report as delivery_report
from mailer.organisation import settings as organisation_settings

MAX_TEST_ADDRESSES = 10
EXCLUSION_LABELS = eligibility.REASON_LABELS
FINAL_STATUSES = (CampaignStatus.SENT, CampaignStatus.CANCELLED)


def _actions(campaign: Campaign) -> dict[str, bool]:
    """Which buttons the campaign's state allows (the page and the progress JSON agree)."""
    return {
        "pause": states.allows(campaign.status, "pause"),
        "resume": states.allows(campaign.status, "resume"),
        "cancel": states.allows(campaign.status, "cancel"),
        "unschedule": states.allows(campaign.status, "unschedule"),
    }


def _sample_subject(campaign: Campaign) -> str:
    """The subject line with its merge fields filled in for a sample contact ("" when it can't render)."""
    if campaign.layout is None or "{" not in (campaign.subject or ""):
        return campaign.subject or ""
    rendered, _ = render_preview(campaign)
    db.session.rollback()
    return rendered.subject if rendered else ""


def _show(campaign: Campaign, status: int = 200, test_form=None, schedule_form=None, test_problem: str = ""):
    # The sample subject ends its transaction, expiring the campaign: render it first, so the status the page
    # shows is read before the counts (never a finished status beside older counts that JS would not refresh).
    sample_subject = _sample_subject(campaign)
    progress = campaign_service.progress(campaign) if campaign.status != CampaignStatus.DRAFT else None
    states = delivery_report.state_report(campaign.id) if progress is not None else []
    relays = delivery_report.relay_counts(campaign.id) if progress is not None else []
    schedule_form = schedule_form or _schedule_form(campaign)
    return render_template(
        "admin/campaigns/show.html",
        campaign=campaign,
        progress=progress,
        actions=_actions(campaign),
        readiness=drafts.readiness(campaign),
        compliance=campaign.compliance or {},
        labels=EXCLUSION_LABELS,
        test_form=test_form or TestSendForm(),
        test_problem=test_problem,
        test_problem_needs_settings=bool(test_problem) and not organisation_settings.postal_address().strip(),
        action_form=ActionForm(),
        schedule_form=schedule_form,
        final=campaign.status in FINAL_STATUSES,
        planned_local=drafts.local_schedule_text(campaign),
        sample_subject=sample_subject,
        pause_alert=campaign_alerts.pause_alert(campaign),
        states=states,
        relays=relays,
        relay_wait=relay_wait_alerts.relay_wait(campaign),
        ab=campaign_ab.results(campaign),
    ), status


def _schedule_form(campaign: Campaign) -> ScheduleForm:
    form = ScheduleForm(
        data={"send_at": drafts.local_schedule_text(campaign), "timezone": campaign.timezone or "UTC"}
    )
    form.timezone.choices = [(name, name.replace("_", " ")) for name in drafts.time_zone_names()]
    return form


def _progress_payload(campaign: Campaign) -> dict:
    data = dict(campaign_service.progress(campaign))
    data.update(
        status=campaign.status,
        status_label=campaign_status_name(campaign.status),
        status_reason=shown(campaign.status_reason),
        actions=_actions(campaign),
        final=campaign.status in FINAL_STATUSES,
        states=delivery_report.states_json(delivery_report.state_report(campaign.id)),
        waiting_reason=campaign.waiting_reason if campaign.status == CampaignStatus.SENDING else "",
    )
    return data


@bp.get("/campaigns/<public_id>")
def campaign_show(public_id: str):
    """The campaign's summary and next steps; live progress once it is sending."""
    body, status = _show(campaign_by_public_id(public_id))
    response = current_app.make_response((body, status))
    response.headers["Content-Security-Policy"] = EDITOR_CSP
    return response


@bp.get("/campaigns/<public_id>/progress.json")
def campaign_progress(public_id: str):
    """Counts, rate and ETA for the live progress panel (polled every second or two)."""
    campaign = campaign_by_public_id(public_id)
    return jsonify(_progress_payload(campaign))


def parse_addresses(raw: str) -> tuple[list[str], list[str]]:
    """(valid addresses, problems) from what was typed: separated by commas, semicolons, spaces or lines."""
    parts = [p for p in re.split(r"[\s,;]+", raw or "") if p]
    problems, addresses = [], []
    if not parts:
        problems.append(gettext("Enter at least one address to send the test to."))
    if len(parts) > MAX_TEST_ADDRESSES:
        problems.append(gettext("Send a test to %(num)s addresses at most.", num=MAX_TEST_ADDRESSES))
        parts = []
    for part in parts:
        try:
            address = normalise_email(part)
        except AddressError:
            problems.append(gettext("“%(address)s” is not a valid email address.", address=part[:80]))
            continue
        if address not in addresses:
            addresses.append(address)
    return addresses, problems


@bp.post("/campaigns/<public_id>/test")
def campaign_test(public_id: str):
    """Send the campaign, marked as a test, to one or more addresses (one test of the staff member's budget,
    core/test_sends.py)."""
    campaign = campaign_by_public_id(public_id)
    form = TestSendForm()
    if not form.validate_on_submit():
        return _show(campaign, 400, test_form=form)
    refused = test_sends.refusal()
    if refused is not None:  # the budget is spent: said beside the button, the addresses kept in the box
        message, wait = refused
        return test_sends.too_many(make_response(_show(campaign, test_form=form, test_problem=message)), wait)
    addresses, problems = parse_addresses(form.addresses.data)
    if problems:
        form.addresses.errors = problems
        return _show(campaign, 400, test_form=form)
    try:
        sent = campaign_service.send_test(campaign, addresses)
    except campaign_service.CampaignError as exc:
        db.session.rollback()
        # What stops sending (no postal address, no layout…) is no fault of the addresses: said beside the
        # button, not on the address box.
        return _show(campaign, 400, test_form=form, test_problem=shown(exc))
    db.session.commit()
    test_sends.spend()
    rendered, _ = render_preview(campaign)
    subject = rendered.subject if rendered else campaign.subject
    flash(
        ngettext(
            "Test of “%(subject)s” sent to %(addresses)s (%(num)d message, marked as a test; "
            "HTML and text parts as shown in the preview).",
            "Test of “%(subject)s” sent to %(addresses)s (%(num)d messages, marked as a test; "
            "HTML and text parts as shown in the preview).",
            sent,
            subject=subject,
            addresses=", ".join(addresses),
        ),
        "here-test",  # shown beside the Send test button, where the eye is
    )
    return redirect(url_for("admin.campaign_show", public_id=public_id, _anchor="test"))


@bp.post("/campaigns/<public_id>/compliance")
def campaign_compliance(public_id: str):
    """Count who would receive the campaign and who is excluded, by reason; store the numbers with it."""
    campaign = campaign_by_public_id(public_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        result = campaign_service.compliance_preview(campaign, again=True)
    except campaign_service.CampaignError as exc:
        db.session.rollback()
        flash(shown(exc), "danger")
        return redirect(url_for("admin.campaign_show", public_id=public_id))
    db.session.commit()
    if "recipients" not in result:
        flash(gettext("Counting the recipients in the background."), "info")
        return redirect(url_for("admin.campaign_show", public_id=public_id, _anchor="compliance"))
    flash(
        ngettext(
            "%(num)d recipient would receive it now; %(excluded)s excluded.",
            "%(num)d recipients would receive it now; %(excluded)s excluded.",
            result["recipients"],
            excluded=sum(result["excluded"].values()),
        ),
        "info",
    )
    return redirect(url_for("admin.campaign_show", public_id=public_id, _anchor="compliance"))


def _confirm_page(
    campaign: Campaign, action: str, status: int = 200, error: str = "", schedule=None, schedule_form=None
):
    """Ask before sending or scheduling, with fresh compliance numbers and any refusal reason."""
    compliance = {}
    if campaign.status == CampaignStatus.DRAFT:
        try:
            compliance = campaign_service.compliance_preview(campaign, for_page=True)
            db.session.commit()
        except campaign_service.CampaignError as exc:
            db.session.rollback()
            error = error or shown(exc)
    return render_template(
        "admin/campaigns/confirm.html",
        campaign=campaign,
        action=action,
        error=error,
        compliance=compliance,
        labels=EXCLUSION_LABELS,
        readiness=drafts.readiness(campaign),
        action_form=ActionForm(),
        schedule=schedule,
        sample_subject=_sample_subject(campaign),
        schedule_form=schedule_form or _schedule_form(campaign),
    ), status


@bp.route("/campaigns/<public_id>/send", methods=["GET", "POST"])
def campaign_send(public_id: str):
    """Confirm, then start sending now."""
    campaign = campaign_by_public_id(public_id)
    if request.method == "GET":
        return _confirm_page(campaign, "send")
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        campaign_service.start_campaign(campaign)
    except campaign_service.CampaignError as exc:
        db.session.rollback()
        return _confirm_page(campaign, "send", 400, error=shown(exc))
    db.session.commit()
    flash(gettext("Sending has started. Progress updates below."), "success")
    return redirect(url_for("admin.campaign_show", public_id=public_id))


@bp.route("/campaigns/<public_id>/schedule", methods=["GET", "POST"])
def campaign_schedule(public_id: str):
    """Confirm the send time (read in the chosen time zone), then schedule the campaign."""
    campaign = campaign_by_public_id(public_id)
    source = request.form if request.method == "POST" else request.args
    form = ScheduleForm(formdata=source, meta={"csrf": request.method == "POST"})
    form.timezone.choices = [(name, name.replace("_", " ")) for name in drafts.time_zone_names()]
    send_at, tz_name = (source.get("send_at") or "")[:40], (source.get("timezone") or "")[:64]
    try:
        local, utc = drafts.parse_schedule(send_at, tz_name)
        if drafts.is_past(utc):
            raise drafts.DraftError(
                {"send_at": gettext("That time has already passed. Choose a time in the future.")}
            )
    except drafts.DraftError as exc:
        for key, message in exc.errors.items():
            getattr(form, key).errors = [shown(message)]
        return _confirm_page(campaign, "schedule", 400, schedule_form=form)
    schedule = {"local": local, "utc": utc, "timezone": tz_name}
    if request.method == "GET":
        return _confirm_page(campaign, "schedule", schedule=schedule, schedule_form=form)
    if not form.validate_on_submit():
        abort(400)
    try:
        campaign_service.schedule_campaign(campaign, local, tz_name)
    except campaign_service.CampaignError as exc:
        db.session.rollback()
        return _confirm_page(
            campaign, "schedule", 400, error=shown(exc), schedule=schedule, schedule_form=form
        )
    db.session.commit()
    when = format_datetime(local, "EEEE dd MMMM y, HH:mm", rebase=False)
    flash(gettext("Scheduled for %(when)s (%(zone)s).", when=when, zone=tz_name), "success")
    return redirect(url_for("admin.campaign_show", public_id=public_id))


def _state_change(public_id: str, change, done: str):
    campaign = campaign_by_public_id(public_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        change(campaign)
    except campaign_service.CampaignError as exc:
        db.session.rollback()
        flash(shown(exc), "danger")
    else:
        db.session.commit()
        flash(done, "success")
    return redirect(url_for("admin.campaign_show", public_id=public_id))


@bp.post("/campaigns/<public_id>/pause")
def campaign_pause(public_id: str):
    """Stop sending within seconds; what is queued stays queued."""
    return _state_change(
        public_id, campaign_service.pause_campaign, gettext("Paused. Nothing more is sent until you resume.")
    )


@bp.post("/campaigns/<public_id>/resume")
def campaign_resume(public_id: str):
    """Carry on sending where it stopped."""
    return _state_change(public_id, campaign_service.resume_campaign, gettext("Resumed."))


@bp.post("/campaigns/<public_id>/cancel")
def campaign_cancel(public_id: str):
    """Stop for good: nothing still queued will be sent."""
    return _state_change(
        public_id, campaign_service.cancel_campaign, gettext("Cancelled. Nothing more will be sent.")
    )


@bp.post("/campaigns/<public_id>/unschedule")
def campaign_unschedule(public_id: str):
    """Take a scheduled campaign back to draft: it won't start, and it can be edited and scheduled again."""

    def unschedule(campaign: Campaign) -> None:
        planned = campaign.scheduled_at
        campaign_service.unschedule_campaign(campaign)
        audit.record(
            "campaign.unschedule",
            "campaign",
            campaign.public_id,
            {
                "was_scheduled_at_utc": planned.isoformat(timespec="minutes") if planned else "",
                "timezone": campaign.timezone,
            },
            actor=current_user,
            ip=request.remote_addr,
        )

    return _state_change(
        public_id,
        unschedule,
        gettext("Back to draft: it will not be sent until you send or schedule it again."),
    )
