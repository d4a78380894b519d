"""The journey builder: journeys, their settings, a vertical list of steps (add, edit, move, delete) with each
step's numbers, pause and resume, and a test run that sends every email of the journey to one address."""

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext, ngettext
from sqlalchemy import select

from mailer.admin.blueprint import bp
from mailer.admin.campaign_sending import EXCLUSION_LABELS
from mailer.admin.journey_forms import (
    AddListStepForm,
    BranchStepForm,
    EndStepForm,
    JourneyForm,
    ListStepForm,
    SendStepForm,
    TagStepForm,
    TestRunForm,
    WaitStepForm,
)
from mailer.campaigns.layouts import all_layouts, default_layout
from mailer.campaigns.rendering import CampaignError
from mailer.contacts.fields import all_fields
from mailer.contacts.models.tags import Tag
from mailer.core import test_sends
from mailer.core.extensions import db
from mailer.core.sentences import shown
from mailer.delivery.relays import all_relays
from mailer.journeys import operations as journeys
from mailer.journeys import queries
from mailer.journeys.models import Journey, JourneyStep, StepKind
from mailer.journeys.steps import JourneyError, StepInput, describe
from mailer.segments.operations import all_segments
from mailer.subscriptions.lists import all_lists

STEP_FORMS = {
    StepKind.SEND: SendStepForm,
    StepKind.WAIT: WaitStepForm,
    StepKind.BRANCH: BranchStepForm,
    StepKind.ADD_TAG: TagStepForm,
    StepKind.REMOVE_TAG: TagStepForm,
    StepKind.ADD_LIST: AddListStepForm,
    StepKind.REMOVE_LIST: ListStepForm,
    StepKind.END: EndStepForm,
}
CHOOSE = lazy_gettext("— choose —")
STEP_LABELS = {
    StepKind.SEND: lazy_gettext("Send an email"),
    StepKind.WAIT: lazy_gettext("Wait"),
    StepKind.BRANCH: lazy_gettext("Branch on a condition"),
    StepKind.ADD_TAG: lazy_gettext("Add a tag"),
    StepKind.REMOVE_TAG: lazy_gettext("Remove a tag"),
    StepKind.ADD_LIST: lazy_gettext("Add to a list"),
    StepKind.REMOVE_LIST: lazy_gettext("Remove from a list"),
    StepKind.END: lazy_gettext("End the journey"),
}


def _journey(public_id: str) -> Journey:
    return db.one_or_404(select(Journey).where(Journey.public_id == public_id[:32]))


def _step(journey: Journey, step_id: int) -> JourneyStep:
    step = db.session.get(JourneyStep, step_id)
    if step is None or step.journey_id != journey.id:
        abort(404)
    return step


def _tag_choices() -> list[tuple[int | None, str]]:
    tags = db.session.execute(select(Tag).order_by(Tag.key)).scalars()
    return [(None, CHOOSE), *((t.id, t.name) for t in tags)]


def _journey_choices(form: JourneyForm) -> None:
    form.list_id.choices = [(None, CHOOSE)] + [(m.id, m.name) for m in all_lists() if m.archived_at is None]
    form.trigger_tag_id.choices = _tag_choices()
    form.layout_id.choices = [(None, CHOOSE)] + [(layout.id, layout.name) for layout in all_layouts()]
    form.trigger_segment_id.choices = [(None, CHOOSE)] + [(s.id, s.name) for s in all_segments()]
    form.date_field_id.choices = [(None, CHOOSE)] + [
        (f.id, f.label) for f in all_fields() if f.value_type == "date" and f.active and not f.is_sensitive
    ]
    named = [(relay.id, f"{relay.name} ({relay.host})") for relay in all_relays()]
    form.relay_id.choices = [(None, gettext("The default relay (SMTP_URL)")), *named]
    form.failover_relay_id.choices = [(None, gettext("No failover: wait for the relay to come back")), *named]


def _journey_input(form: JourneyForm) -> journeys.JourneyInput:
    return journeys.JourneyInput(
        name=form.name.data or "",
        trigger=form.trigger.data or "",
        list_id=form.list_id.data,
        trigger_tag_id=form.trigger_tag_id.data,
        reentry=bool(form.reentry.data),
        include_existing=bool(form.include_existing.data),
        timezone=(form.timezone.data or "UTC").strip(),
        layout_id=form.layout_id.data,
        track_clicks=bool(form.track_clicks.data),
        trigger_segment_id=form.trigger_segment_id.data,
        date_field_id=form.date_field_id.data,
        date_hour=form.date_hour.data if form.date_hour.data is not None else 9,
        date_yearly=bool(form.date_yearly.data),
        date_offset_days=form.date_offset_days.data or 0,
        relay_id=form.relay_id.data,
        failover_relay_id=form.failover_relay_id.data,
    )


@bp.get("/journeys")
def journeys_index():
    """Every journey with how many contacts are in it, finished and left."""
    items = (
        db.session.execute(select(Journey).order_by(Journey.created_at.desc(), Journey.id.desc()))
        .scalars()
        .all()
    )
    return render_template(
        "admin/journeys/index.html",
        journeys=items,
        totals=queries.totals([j.id for j in items]),
        describe_trigger=queries.describe_trigger,
    )


@bp.route("/journeys/new", methods=["GET", "POST"])
def journey_new():
    """Create a journey (paused until its steps are ready)."""
    form = JourneyForm()
    _journey_choices(form)
    if request.method == "GET":
        layout = default_layout()
        form.layout_id.data = layout.id if layout is not None else None
    if form.validate_on_submit():
        try:
            journey = journeys.create_journey(_journey_input(form))
        except JourneyError as exc:
            db.session.rollback()
            flash(shown(exc), "danger")
            return render_template("admin/journeys/edit.html", form=form, journey=None), 400
        db.session.commit()
        flash(gettext("Journey created. Add its steps, then start it."), "success")
        return redirect(url_for("admin.journey_show", public_id=journey.public_id))
    return render_template("admin/journeys/edit.html", form=form, journey=None), 400 if form.errors else 200


@bp.route("/journeys/<public_id>/edit", methods=["GET", "POST"])
def journey_edit(public_id: str):
    """Change a journey's settings."""
    journey = _journey(public_id)
    form = JourneyForm(obj=journey)
    _journey_choices(form)
    if form.validate_on_submit():
        try:
            journeys.update_journey(journey, _journey_input(form))
        except JourneyError as exc:
            db.session.rollback()
            flash(shown(exc), "danger")
            return render_template("admin/journeys/edit.html", form=form, journey=journey), 400
        db.session.commit()
        flash(gettext("Journey saved."), "success")
        return redirect(url_for("admin.journey_show", public_id=public_id))
    return render_template(
        "admin/journeys/edit.html", form=form, journey=journey
    ), 400 if form.errors else 200


@bp.get("/journeys/<public_id>")
def journey_show(public_id: str):
    """The builder: the steps in order with their numbers, and what can be done with each."""
    return _builder(_journey(public_id))


def _builder(journey, test_form: TestRunForm | None = None, test_problem: str = "") -> str:
    names = queries.names()
    steps = [(step, describe(step.kind, step.settings, names)) for step in journey.steps]
    return render_template(
        "admin/journeys/show.html",
        journey=journey,
        steps=steps,
        stats=queries.step_stats(journey),
        totals=queries.totals([journey.id]).get(journey.id, {}),
        labels=STEP_LABELS,
        exit_reasons=EXCLUSION_LABELS,
        test_form=test_form or TestRunForm(),
        test_problem=test_problem,
        describe_trigger=queries.describe_trigger,
    )


@bp.post("/journeys/<public_id>/status")
def journey_status(public_id: str):
    """Start or resume (action=start) or pause (action=pause) the journey."""
    journey = _journey(public_id)
    action = request.form.get("action")
    if action == "pause":
        journeys.pause(journey)
        db.session.commit()
        flash(gettext("Paused: nobody moves on and no email leaves until you resume it."), "success")
    elif action == "start":
        try:
            enrolled = journeys.activate(journey)
        except JourneyError as exc:
            db.session.rollback()
            flash(shown(exc), "danger")
            return redirect(url_for("admin.journey_show", public_id=public_id)), 303
        db.session.commit()
        running = gettext("The journey is running.")
        if enrolled:
            entered = ngettext(
                "%(num)d existing contact entered.", "%(num)d existing contacts entered.", enrolled
            )
            running = f"{running} {entered}"
        flash(running, "success")
    else:
        abort(400, gettext("Choose start or pause."))
    return redirect(url_for("admin.journey_show", public_id=public_id)), 303


def _step_form(kind: str, journey: Journey, step: JourneyStep | None = None):
    form_class = STEP_FORMS[StepKind(kind)]
    form = form_class(obj=step) if step is not None and kind == StepKind.SEND else form_class()
    if step is not None and request.method == "GET":
        _fill_from_settings(form, step)
    if isinstance(form, (TagStepForm, BranchStepForm)):
        form.tag_id.choices = _tag_choices()
    if isinstance(form, ListStepForm):
        form.list_id.choices = [(None, CHOOSE)] + [
            (m.id, m.name) for m in all_lists() if m.archived_at is None
        ]
    if isinstance(form, BranchStepForm):
        form.list_id.choices = [(None, CHOOSE)] + [(m.id, m.name) for m in all_lists()]
        others = [s for s in journey.steps if step is None or s.id != step.id]
        form.clicked_step_id.choices = [(None, CHOOSE)] + [
            (s.id, gettext("Step %(number)s: %(kind)s", number=s.position + 1, kind=s.subject))
            for s in others
            if s.kind == StepKind.SEND
        ]
        form.else_step_id.choices = [(None, gettext("End the journey"))] + [
            (s.id, gettext("Skip to step %(number)s", number=s.position + 1)) for s in others
        ]
    return form


def _fill_from_settings(form, step: JourneyStep) -> None:
    settings = step.settings or {}
    if isinstance(form, WaitStepForm):
        form.wait_mode.data = settings.get("mode", "duration")
        seconds = int(settings.get("seconds", 0))
        form.wait_days.data, rest = divmod(seconds, 86400)
        form.wait_hours.data, rest = divmod(rest, 3600)
        form.wait_minutes.data = rest // 60
        form.weekday.data, form.hour.data = int(settings.get("weekday", 0)), int(settings.get("hour", 9))
    elif isinstance(form, BranchStepForm):
        form.branch_on.data = settings.get("on", "tag")
        form.tag_id.data, form.list_id.data = settings.get("tag_id"), settings.get("list_id")
        form.field_key.data, form.field_value.data = settings.get("field_key", ""), settings.get("value", "")
        form.clicked_step_id.data, form.else_step_id.data = settings.get("step_id"), settings.get("else")
    elif isinstance(form, TagStepForm):
        form.tag_id.data = settings.get("tag_id")
    elif isinstance(form, ListStepForm):
        form.list_id.data = settings.get("list_id")
        if isinstance(form, AddListStepForm):
            form.basis.data, form.statement.data = settings.get("basis"), settings.get("statement", "")


def _step_input(kind: str, form) -> StepInput:
    data = StepInput(kind=kind)
    for name in StepInput.__dataclass_fields__:
        if name != "kind" and hasattr(form, name):
            value = getattr(form, name).data
            if value is not None:
                setattr(data, name, value.strip() if isinstance(value, str) and name != "body" else value)
    return data


@bp.route("/journeys/<public_id>/steps/new", methods=["GET", "POST"])
def journey_step_new(public_id: str):
    """Add a step of the chosen kind (at the end, or before `position`)."""
    journey = _journey(public_id)
    kind = request.values.get("kind", "")
    if kind not in STEP_LABELS:
        return render_template("admin/journeys/choose_step.html", journey=journey, labels=STEP_LABELS)
    form = _step_form(kind, journey)
    if form.validate_on_submit():
        try:
            journeys.add_step(journey, _step_input(kind, form))
        except (JourneyError, CampaignError) as exc:
            db.session.rollback()
            flash(shown(exc), "danger")
            return _step_page(journey, kind, form, None), 400
        db.session.commit()
        flash(gettext("%(kind)s: step added.", kind=STEP_LABELS[StepKind(kind)]), "success")
        return redirect(url_for("admin.journey_show", public_id=public_id)), 303
    return _step_page(journey, kind, form, None), 400 if form.errors else 200


def _step_page(journey: Journey, kind: str, form, step: JourneyStep | None):
    return render_template(
        "admin/journeys/step.html", journey=journey, kind=kind, form=form, step=step, labels=STEP_LABELS
    )


@bp.route("/journeys/<public_id>/steps/<int:step_id>/edit", methods=["GET", "POST"])
def journey_step_edit(public_id: str, step_id: int):
    """Change a step (messages not sent yet take the new content)."""
    journey = _journey(public_id)
    step = _step(journey, step_id)
    form = _step_form(step.kind, journey, step)
    if form.validate_on_submit():
        try:
            journeys.update_step(step, _step_input(step.kind, form))
        except (JourneyError, CampaignError) as exc:
            db.session.rollback()
            flash(shown(exc), "danger")
            return _step_page(journey, step.kind, form, step), 400
        db.session.commit()
        flash(gettext("Step saved."), "success")
        return redirect(url_for("admin.journey_show", public_id=public_id)), 303
    return _step_page(journey, step.kind, form, step), 400 if form.errors else 200


@bp.post("/journeys/<public_id>/steps/<int:step_id>/move")
def journey_step_move(public_id: str, step_id: int):
    """Move a step up or down."""
    journey = _journey(public_id)
    journeys.move_step(_step(journey, step_id), -1 if request.form.get("direction") == "up" else 1)
    db.session.commit()
    return redirect(url_for("admin.journey_show", public_id=public_id, _anchor=f"step-{step_id}")), 303


@bp.post("/journeys/<public_id>/steps/<int:step_id>/delete")
def journey_step_delete(public_id: str, step_id: int):
    """Delete a step; contacts about to run it go on with the next one."""
    journey = _journey(public_id)
    try:
        journeys.delete_step(_step(journey, step_id))
    except JourneyError as exc:
        db.session.rollback()
        flash(shown(exc), "danger")
        return redirect(url_for("admin.journey_show", public_id=public_id)), 303
    db.session.commit()
    flash(gettext("Step deleted."), "success")
    return redirect(url_for("admin.journey_show", public_id=public_id)), 303


@bp.post("/journeys/<public_id>/test")
def journey_test(public_id: str):
    """A test run: every email of the journey, in order and marked as a test, to one address (one test of the
    staff member's budget, core/test_sends.py)."""
    journey = _journey(public_id)
    form = TestRunForm()
    if not form.validate_on_submit():
        abort(400, gettext("The form expired; reload the page."))
    refused = test_sends.refusal()
    if refused is not None:  # the budget is spent: said under the test form, the address kept in its box
        return test_sends.too_many(make_response(_builder(journey, form, refused[0])), refused[1])
    address = (form.address.data or "").strip()
    try:
        sent = journeys.send_test_run(journey, address)
    except (JourneyError, CampaignError) as exc:
        db.session.rollback()
        flash(shown(exc), "danger")
        return redirect(url_for("admin.journey_show", public_id=public_id)), 303
    db.session.commit()
    if not sent:
        flash(gettext("This journey has no email step yet."), "warning")
    else:
        test_sends.spend()
        flash(
            ngettext(
                "%(num)d test email is on its way to %(address)s.",
                "%(num)d test emails are on their way to %(address)s.",
                sent,
                address=address,
            ),
            "success",
        )
    return redirect(url_for("admin.journey_show", public_id=public_id)), 303
