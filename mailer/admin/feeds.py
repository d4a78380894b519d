"""RSS-to-email: feed campaigns (create, edit, pause, resume, run now) and the record of their runs."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional

from mailer.admin.blueprint import bp
from mailer.admin.campaign_forms import optional_id
from mailer.campaigns.layouts import all_layouts, default_layout
from mailer.core.extensions import db
from mailer.feeds import operations as feeds
from mailer.feeds.items import FeedError
from mailer.feeds.models import Feed
from mailer.journeys.steps import WEEKDAYS
from mailer.subscriptions.lists import all_lists

_LINE = [Length(max=2048, message="This is far too long.")]


class FeedForm(FlaskForm):
    name = StringField("Name", validators=_LINE)
    url = StringField("Feed address (RSS or Atom)", validators=_LINE)
    list_id = SelectField("List the campaigns are sent to", coerce=optional_id)
    layout_id = SelectField("Layout", coerce=optional_id)
    frequency = SelectField("How often", choices=[("daily", "Daily"), ("weekly", "Weekly")])
    weekday = SelectField("Weekday (weekly)", choices=list(enumerate(WEEKDAYS)), coerce=int)
    hour = IntegerField("Hour (0–23)", default=9, validators=[Optional(), NumberRange(min=0, max=23)])
    timezone = StringField("Time zone of the schedule", default="UTC", validators=_LINE)
    max_items = IntegerField(
        "Items per email at most", default=10, validators=[Optional(), NumberRange(1, 50)]
    )
    subject = StringField("Subject template", default=feeds.DEFAULT_SUBJECT, validators=_LINE)
    body = TextAreaField("Content template (HTML)", default=feeds.DEFAULT_BODY, render_kw={"rows": 14})
    track_clicks = BooleanField("Track clicks (only of contacts who consented)", default=True)


def _feed(public_id: str) -> Feed:
    return db.one_or_404(select(Feed).where(Feed.public_id == public_id[:32]))


def _choices(form: FeedForm) -> None:
    form.list_id.choices = [(None, "— choose —")] + [
        (m.id, m.name) for m in all_lists() if m.archived_at is None
    ]
    form.layout_id.choices = [(None, "— choose —")] + [(lay.id, lay.name) for lay in all_layouts()]


def _input(form: FeedForm) -> feeds.FeedInput:
    return feeds.FeedInput(
        name=form.name.data or "",
        url=(form.url.data or "").strip(),
        list_id=form.list_id.data,
        layout_id=form.layout_id.data,
        frequency=form.frequency.data or "daily",
        weekday=form.weekday.data or 0,
        hour=form.hour.data if form.hour.data is not None else 9,
        timezone=(form.timezone.data or "UTC").strip(),
        max_items=form.max_items.data or 10,
        subject=form.subject.data or "",
        body=form.body.data or "",
        track_clicks=bool(form.track_clicks.data),
    )


@bp.get("/feeds")
def feeds_index():
    """Every feed campaign with its schedule and last run."""
    items = db.session.execute(select(Feed).order_by(Feed.name)).scalars().all()
    return render_template("admin/feeds/index.html", feeds=items, weekdays=WEEKDAYS)


def _save(feed: Feed | None):
    form = FeedForm(obj=feed)
    _choices(form)
    if feed is None and request.method == "GET":
        layout = default_layout()
        form.layout_id.data = layout.id if layout is not None else None
    if form.validate_on_submit():
        try:
            saved = feeds.save_feed(_input(form), feed)
        except FeedError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return render_template("admin/feeds/edit.html", form=form, feed=feed), 400
        db.session.commit()
        flash(
            "Feed campaign saved."
            + ("" if saved.status == "active" else " Resume it to run it on schedule."),
            "success",
        )
        return redirect(url_for("admin.feed_show", public_id=saved.public_id))
    return render_template("admin/feeds/edit.html", form=form, feed=feed), 400 if form.errors else 200


@bp.route("/feeds/new", methods=["GET", "POST"])
def feed_new():
    """Create a feed campaign (paused until resumed)."""
    return _save(None)


@bp.route("/feeds/<public_id>/edit", methods=["GET", "POST"])
def feed_edit(public_id: str):
    """Change a feed campaign."""
    return _save(_feed(public_id))


@bp.get("/feeds/<public_id>")
def feed_show(public_id: str):
    """A feed campaign's settings and its runs (items found, new, the campaign or why not)."""
    feed = _feed(public_id)
    return render_template(
        "admin/feeds/show.html", feed=feed, runs=feeds.runs_of(feed), weekdays=WEEKDAYS, form=FlaskForm()
    )


@bp.post("/feeds/<public_id>/status")
def feed_status(public_id: str):
    """Resume (run on schedule), pause, or run now."""
    feed = _feed(public_id)
    if not FlaskForm().validate_on_submit():
        abort(400, "The form expired; reload the page.")
    action = request.form.get("action")
    if action == "resume":
        feeds.resume(feed)
        db.session.commit()
        flash("Running on its schedule.", "success")
    elif action == "pause":
        feeds.pause(feed)
        db.session.commit()
        flash("Paused: no scheduled run until you resume it.", "success")
    elif action == "run":
        run = feeds.run_feed(feed, manual=True)
        words = {"sent": "New items were sent as a campaign.", "nothing_new": "Nothing new in the feed."}
        flash(
            words.get(run.outcome, f"The run failed: {run.error}"),
            "success" if run.outcome != "error" else "danger",
        )
    else:
        abort(400, "Choose resume, pause or run.")
    return redirect(url_for("admin.feed_show", public_id=public_id)), 303
