"""WTForms for the journey builder (Flask-WTF adds CSRF to each); the rules and messages live in
mailer.journeys (operations and steps)."""

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional

from mailer.admin.campaign_forms import optional_id
from mailer.journeys.steps import WEEKDAYS

_LINE = [Length(max=1000, message=lazy_gettext("This is far too long."))]
_TEXT = [Length(max=120_000, message=lazy_gettext("This is too long (100,000 characters at most)."))]
TRIGGERS = [
    ("list_confirmed", lazy_gettext("Someone confirms a subscription to the list")),
    ("tag_added", lazy_gettext("A tag is put on a contact")),
    ("api", lazy_gettext("An integration calls the API")),
    ("segment_joined", lazy_gettext("A contact joins a segment")),
    ("date_field", lazy_gettext("The day of a date field comes (birthday, anniversary, renewal)")),
]
BASES = [
    ("double_opt_in", lazy_gettext("Send them a double opt-in email; they are added when they confirm")),
    (
        "has_consent",
        lazy_gettext("They already consented elsewhere (say where and how below; stored as the proof)"),
    ),
]


class JourneyForm(FlaskForm):
    name = StringField(lazy_gettext("Name"), validators=_LINE)
    trigger = SelectField(lazy_gettext("Starts when"), choices=TRIGGERS)
    list_id = SelectField(lazy_gettext("List the emails are sent for"), coerce=optional_id)
    trigger_tag_id = SelectField(
        lazy_gettext("Tag that starts it (when the trigger is a tag)"), coerce=optional_id
    )
    trigger_segment_id = SelectField(
        lazy_gettext("Segment whose new members enter (when the trigger is a segment)"), coerce=optional_id
    )
    date_field_id = SelectField(lazy_gettext("Date field (when the trigger is a date)"), coerce=optional_id)
    date_yearly = BooleanField(
        lazy_gettext("Every year on that day (birthday, anniversary); otherwise on the date itself"),
        default=True,
    )
    date_offset_days = IntegerField(
        lazy_gettext("Days before (−) or after (+) the date"),
        default=0,
        validators=[Optional(), NumberRange(min=-365, max=365)],
    )
    date_hour = IntegerField(
        lazy_gettext("Hour of the day it starts (0–23, contact's time)"),
        default=9,
        validators=[Optional(), NumberRange(min=0, max=23)],
    )
    layout_id = SelectField(lazy_gettext("Layout of its emails"), coerce=optional_id)
    timezone = StringField(
        lazy_gettext("Time zone for contacts without their own"), default="UTC", validators=_LINE
    )
    include_existing = BooleanField(
        lazy_gettext("Existing contacts too (everyone who already meets the trigger enters)")
    )
    reentry = BooleanField(lazy_gettext("A contact may go through it again after finishing or leaving"))
    track_clicks = BooleanField(lazy_gettext("Track clicks (only of contacts who consented)"), default=True)
    relay_id = SelectField(lazy_gettext("Send through"), coerce=optional_id)
    failover_relay_id = SelectField(lazy_gettext("If that relay is down, fail over to"), coerce=optional_id)


class SendStepForm(FlaskForm):
    subject = StringField(lazy_gettext("Subject"), validators=_LINE)
    preheader = StringField(lazy_gettext("Preview text (after the subject)"), validators=_LINE)
    body_format = SelectField(
        lazy_gettext("Content format"), choices=[("markdown", "Markdown"), ("html", "HTML")]
    )
    body = TextAreaField(lazy_gettext("Content"), validators=_TEXT, render_kw={"rows": 12})


class WaitStepForm(FlaskForm):
    wait_mode = SelectField(
        lazy_gettext("Wait"),
        choices=[
            ("duration", lazy_gettext("For a while")),
            ("until", lazy_gettext("Until a weekday and hour (contact's time)")),
        ],
    )
    wait_days = IntegerField(
        lazy_gettext("Days"), default=0, validators=[Optional(), NumberRange(min=0, max=365)]
    )
    wait_hours = IntegerField(
        lazy_gettext("Hours"), default=0, validators=[Optional(), NumberRange(min=0, max=23)]
    )
    wait_minutes = IntegerField(
        lazy_gettext("Minutes"), default=0, validators=[Optional(), NumberRange(min=0, max=59)]
    )
    weekday = SelectField(
        lazy_gettext("Weekday"), choices=list(enumerate(WEEKDAYS)), coerce=int, validate_choice=False
    )
    hour = IntegerField(
        lazy_gettext("Hour (0–23)"), default=9, validators=[Optional(), NumberRange(min=0, max=23)]
    )


class BranchStepForm(FlaskForm):
    branch_on = SelectField(
        lazy_gettext("Go on only if the contact"),
        choices=[
            ("tag", lazy_gettext("has a tag")),
            ("list", lazy_gettext("is subscribed to a list")),
            ("field", lazy_gettext("has a field value")),
            (
                "clicked",
                lazy_gettext(
                    "clicked a link in an earlier email "
                    "(counts only contacts who consented to click tracking)"
                ),
            ),
        ],
    )
    tag_id = SelectField(lazy_gettext("Tag"), coerce=optional_id)
    list_id = SelectField(lazy_gettext("List"), coerce=optional_id)
    field_key = StringField(lazy_gettext("Field key"), validators=_LINE)
    field_value = StringField(lazy_gettext("Field value"), validators=_LINE)
    clicked_step_id = SelectField(lazy_gettext("Earlier email"), coerce=optional_id)
    else_step_id = SelectField(lazy_gettext("Otherwise"), coerce=optional_id)


class TagStepForm(FlaskForm):
    tag_id = SelectField(lazy_gettext("Tag"), coerce=optional_id)


class ListStepForm(FlaskForm):
    list_id = SelectField(lazy_gettext("List"), coerce=optional_id)


class AddListStepForm(ListStepForm):
    basis = SelectField(lazy_gettext("How the person agreed to this list"), choices=BASES)
    statement = TextAreaField(
        lazy_gettext("Where and how they consented (for consent obtained elsewhere)"), validators=_TEXT
    )


class EndStepForm(FlaskForm):
    """An end step has nothing to fill in (the form carries the CSRF token)."""


class TestRunForm(FlaskForm):
    address = StringField(
        lazy_gettext("Send every email of the journey, marked as a test, to"), validators=_LINE
    )
