"""RSS-to-email: feed campaigns (create, edit, pause, resume, run now) and the record of their runs."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional

from mailer.admin.blueprint import bp
from mailer.admin.campaign_forms import optional_id
from mailer.campaigns.layouts import all_layouts, default_layout
from mailer.core.extensions import db
from mailer.core.sentences import shown
from mailer.delivery.relays import all_relays
from mailer.feeds import operations as feeds
from mailer.feeds.items import FeedError
from mailer.feeds.models import Feed
from mailer.journeys.steps import WEEKDAYS
from mailer.subscriptions.lists import all_lists

_LINE = [Length(max=2048, message=lazy_gettext("This is far too long."))]


class FeedForm(FlaskForm):
    name = StringField(lazy_gettext("Name"), validators=_LINE)
    url = StringField(lazy_gettext("Feed address (RSS or Atom)"), validators=_LINE)
    list_id = SelectField(lazy_gettext("List the campaigns are sent to"), coerce=optional_id)
    layout_id = SelectField(lazy_gettext("Layout"), coerce=optional_id)
    frequency = SelectField(
        lazy_gettext("How often"),
        choices=[("daily", lazy_gettext("Daily")), ("weekly", lazy_gettext("Weekly"))],
    )
    weekday = SelectField(lazy_gettext("Weekday (weekly)"), choices=list(enumerate(WEEKDAYS)), coerce=int)
    hour = IntegerField(
        lazy_gettext("Hour (0–23)"), default=9, validators=[Optional(), NumberRange(min=0, max=23)]
    )
    timezone = StringField(lazy_gettext("Time zone of the schedule"), default="UTC", validators=_LINE)
    max_items = IntegerField(
        lazy_gettext("Items per email at most"), default=10, validators=[Optional(), NumberRange(1, 50)]
    )
    subject = StringField(lazy_gettext("Subject template"), default=feeds.DEFAULT_SUBJECT, validators=_LINE)
    body = TextAreaField(
        lazy_gettext("Content template (HTML)"), default=feeds.DEFAULT_BODY, render_kw={"rows": 14}
    )
    track_clicks = BooleanField(lazy_gettext("Track clicks (only of contacts who consented)"), default=True)
    relay_id = SelectField(lazy_gettext("Send through"), coerce=optional_id)
    failover_relay_id = SelectField(lazy_gettext("If that relay is down, fail over to"), coerce=optional_id)


def _feed(public_id: str) -> Feed:
    return db.one_or_404(select(Feed).where(Feed.public_id == public_id[:32]))


def _choices(form: FeedForm) -> None:
    form.list_id.choices = [(None, _("— choose —"))] + [
        (m.id, m.name) for m in all_lists() if m.archived_at is None
    ]
    form.layout_id.choices = [(None, _("— choose —"))] + [(lay.id, lay.name) for lay in all_layouts()]
    named = [(relay.id, f"{relay.name} ({relay.host})") for relay in all_relays()]
    form.relay_id.choices = [(None, _("The default relay (SMTP_URL)")), *named]
    form.failover_relay_id.choices = [(None, _("No failover: wait for the relay to come back")), *named]


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
        relay_id=form.relay_id.data,
        failover_relay_id=form.failover_relay_id.data,
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
            flash(shown(exc), "danger")
            return render_template("admin/feeds/edit.html", form=form, feed=feed), 400
        db.session.commit()
        flash(
            _("Feed campaign saved.")
            if saved.status == "active"
            else _("Feed campaign saved. Resume it to run it on schedule."),
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


# Shown beside the buttons, where the eye is (the "here-" categories are left out of the page's top flashes).
HERE_DONE, HERE_FAILED = "here-feed-success", "here-feed-danger"


@bp.post("/feeds/<public_id>/status")
def feed_status(public_id: str):
    """Resume (run on schedule), pause, or run now; the outcome is said next to the buttons."""
    feed = _feed(public_id)
    if not FlaskForm().validate_on_submit():
        abort(400, _("The form expired; reload the page."))
    action = request.form.get("action")
    if action == "resume":
        feeds.resume(feed)
        db.session.commit()
        flash(_("Resumed: it runs on its schedule."), HERE_DONE)
    elif action == "pause":
        feeds.pause(feed)
        db.session.commit()
        flash(_("Paused: no scheduled run until you resume it."), HERE_DONE)
    elif action == "run":
        run = feeds.run_feed(feed, manual=True)
        if run.outcome == "sent":
            flash(_("New items were sent as a campaign."), HERE_DONE)
        elif run.outcome == "nothing_new":
            flash(_("Nothing new in the feed: no email was sent."), HERE_DONE)
        else:
            flash(_("The run failed: %(error)s", error=shown(run.error)), HERE_FAILED)
    else:
        abort(400, _("Choose resume, pause or run."))
    return redirect(url_for("admin.feed_show", public_id=public_id, _anchor="actions")), 303
