"""WTForms for the journey builder (Flask-WTF adds CSRF to each); the rules and messages live in
mailer.journeys (operations and steps)."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional

from mailer.admin.campaign_forms import optional_id
from mailer.journeys.steps import WEEKDAYS

_LINE = [Length(max=1000, message="This is far too long.")]
_TEXT = [Length(max=120_000, message="This is too long (100,000 characters at most).")]
TRIGGERS = [
    ("list_confirmed", "Someone confirms a subscription to the list"),
    ("tag_added", "A tag is put on a contact"),
    ("api", "An integration calls the API"),
    ("segment_joined", "A contact joins a segment"),
    ("date_field", "The day of a date field comes (birthday, anniversary, renewal)"),
]
BASES = [
    ("double_opt_in", "Send them a double opt-in email; they are added when they confirm"),
    ("has_consent", "They already consented elsewhere (say where and how below; stored as the proof)"),
]


class JourneyForm(FlaskForm):
    name = StringField("Name", validators=_LINE)
    trigger = SelectField("Starts when", choices=TRIGGERS)
    list_id = SelectField("List the emails are sent for", coerce=optional_id)
    trigger_tag_id = SelectField("Tag that starts it (when the trigger is a tag)", coerce=optional_id)
    trigger_segment_id = SelectField(
        "Segment whose new members enter (when the trigger is a segment)", coerce=optional_id
    )
    date_field_id = SelectField("Date field (when the trigger is a date)", coerce=optional_id)
    date_yearly = BooleanField(
        "Every year on that day (birthday, anniversary); otherwise on the date itself", default=True
    )
    date_offset_days = IntegerField(
        "Days before (−) or after (+) the date",
        default=0,
        validators=[Optional(), NumberRange(min=-365, max=365)],
    )
    date_hour = IntegerField(
        "Hour of the day it starts (0–23, contact's time)",
        default=9,
        validators=[Optional(), NumberRange(min=0, max=23)],
    )
    layout_id = SelectField("Layout of its emails", coerce=optional_id)
    timezone = StringField("Time zone for contacts without their own", default="UTC", validators=_LINE)
    include_existing = BooleanField("Existing contacts too (everyone who already meets the trigger enters)")
    reentry = BooleanField("A contact may go through it again after finishing or leaving")
    track_clicks = BooleanField("Track clicks (only of contacts who consented)", default=True)
    relay_id = SelectField("Send through", coerce=optional_id)
    failover_relay_id = SelectField("If that relay is down, fail over to", coerce=optional_id)


class SendStepForm(FlaskForm):
    subject = StringField("Subject", validators=_LINE)
    preheader = StringField("Preview text (after the subject)", validators=_LINE)
    body_format = SelectField("Content format", choices=[("markdown", "Markdown"), ("html", "HTML")])
    body = TextAreaField("Content", validators=_TEXT, render_kw={"rows": 12})


class WaitStepForm(FlaskForm):
    wait_mode = SelectField(
        "Wait", choices=[("duration", "For a while"), ("until", "Until a weekday and hour (contact's time)")]
    )
    wait_days = IntegerField("Days", default=0, validators=[Optional(), NumberRange(min=0, max=365)])
    wait_hours = IntegerField("Hours", default=0, validators=[Optional(), NumberRange(min=0, max=23)])
    wait_minutes = IntegerField("Minutes", default=0, validators=[Optional(), NumberRange(min=0, max=59)])
    weekday = SelectField("Weekday", choices=list(enumerate(WEEKDAYS)), coerce=int, validate_choice=False)
    hour = IntegerField("Hour (0–23)", default=9, validators=[Optional(), NumberRange(min=0, max=23)])


class BranchStepForm(FlaskForm):
    branch_on = SelectField(
        "Go on only if the contact",
        choices=[
            ("tag", "has a tag"),
            ("list", "is subscribed to a list"),
            ("field", "has a field value"),
            (
                "clicked",
                "clicked a link in an earlier email (counts only contacts who consented to click tracking)",
            ),
        ],
    )
    tag_id = SelectField("Tag", coerce=optional_id)
    list_id = SelectField("List", coerce=optional_id)
    field_key = StringField("Field key", validators=_LINE)
    field_value = StringField("Field value", validators=_LINE)
    clicked_step_id = SelectField("Earlier email", coerce=optional_id)
    else_step_id = SelectField("Otherwise", coerce=optional_id)


class TagStepForm(FlaskForm):
    tag_id = SelectField("Tag", coerce=optional_id)


class ListStepForm(FlaskForm):
    list_id = SelectField("List", coerce=optional_id)


class AddListStepForm(ListStepForm):
    basis = SelectField("How the person agreed to this list", choices=BASES)
    statement = TextAreaField(
        "Where and how they consented (for consent obtained elsewhere)", validators=_TEXT
    )


class EndStepForm(FlaskForm):
    """An end step has nothing to fill in (the form carries the CSRF token)."""


class TestRunForm(FlaskForm):
    address = StringField("Send every email of the journey, marked as a test, to", validators=_LINE)
