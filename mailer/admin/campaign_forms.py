"""WTForms for the campaign editor and the layout editor (Flask-WTF adds CSRF to each).

The fields only parse; the rules and their messages live in services/campaign_drafts.py and
services/layouts.py.
"""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, Optional

from mailer.admin.forms import MultiCheckboxField
from mailer.campaigns.drafts import DraftFields

# Generous caps so a paste is never cut silently; the service gives the precise limits and messages.
_LINE = [Length(max=1000, message="This is far too long.")]
_TEXT = [Length(max=120_000, message="This is too long (100,000 characters at most).")]


def optional_id(value) -> int | None:
    """A select's value as an id, or None for its empty choice (a value that is no number is refused)."""
    if value in (None, "", "None"):
        return None
    return int(value)


class CampaignForm(FlaskForm):
    name = StringField("Campaign name", validators=_LINE)
    subject = StringField("Subject", validators=_LINE)
    preheader = StringField("Preheader (the preview line after the subject)", validators=_LINE)
    from_name = StringField("Sender name", validators=_LINE)
    from_email = StringField(
        "Sender address", validators=_LINE, render_kw={"type": "email", "autocomplete": "off"}
    )
    reply_to = StringField(
        "Reply-to address (optional)", validators=_LINE, render_kw={"type": "email", "autocomplete": "off"}
    )
    lists = MultiCheckboxField("Send to these lists", coerce=int)
    exclusion_lists = MultiCheckboxField("Leave out members of these lists", coerce=int)
    segments = MultiCheckboxField("Send to these segments", coerce=int)
    layout_id = SelectField("Layout", coerce=int)
    body_format = RadioField(
        "Body format",
        choices=[("visual", "Visual"), ("markdown", "Markdown"), ("html", "HTML")],
        default="markdown",
    )
    body = TextAreaField("Body", validators=_TEXT)
    body_project = HiddenField(validators=[Length(max=130_000, message="The visual design is too large.")])
    text_body = TextAreaField("Text part (optional)", validators=_TEXT)
    track_opens = BooleanField("Track opens")
    track_clicks = BooleanField("Track clicks")
    send_at = StringField(
        "Planned send time (optional)", validators=[Length(max=40)], render_kw={"type": "datetime-local"}
    )
    timezone = SelectField("Time zone")
    relay_id = SelectField("Send through", coerce=optional_id)
    failover_relay_id = SelectField("If that relay is down, fail over to", coerce=optional_id)

    def to_fields(self) -> DraftFields:
        """The submitted values as the draft service takes them."""
        return DraftFields(
            name=self.name.data or "",
            subject=self.subject.data or "",
            preheader=self.preheader.data or "",
            from_name=self.from_name.data or "",
            from_email=self.from_email.data or "",
            reply_to=self.reply_to.data or "",
            body_format=self.body_format.data or "",
            body=self.body.data or "",
            body_project=self.body_project.data or "",
            text_body=self.text_body.data or "",
            layout_id=self.layout_id.data,
            list_ids=list(self.lists.data or []),
            exclusion_list_ids=list(self.exclusion_lists.data or []),
            segment_ids=list(self.segments.data or []),
            track_opens=bool(self.track_opens.data),
            track_clicks=bool(self.track_clicks.data),
            send_at=self.send_at.data or "",
            timezone=self.timezone.data or "UTC",
            relay_id=self.relay_id.data,
            failover_relay_id=self.failover_relay_id.data,
        )


class TestSendForm(FlaskForm):
    addresses = TextAreaField("Send a test to", validators=[Length(max=2000, message="Too many addresses.")])


class ScheduleForm(FlaskForm):
    send_at = StringField("Send at", validators=[Length(max=40)], render_kw={"type": "datetime-local"})
    timezone = SelectField("Time zone")


class ActionForm(FlaskForm):
    """A button that only needs CSRF (send, pause, resume, cancel, delete, copy)."""


class LayoutForm(FlaskForm):
    name = StringField("Name", validators=[Length(max=1000, message="The name is far too long.")])
    html = TextAreaField("HTML", validators=[Length(max=200_000, message="The HTML is too long.")])


class AbSettingsForm(FlaskForm):
    """An A/B test's settings; the ranges and their messages are mailer.campaigns.ab_testing's."""

    enabled = BooleanField("Run this campaign as an A/B test")
    test_percent = IntegerField("Test share (% of the audience)", default=20, validators=[Optional()])
    wait_minutes = IntegerField(
        "Wait before choosing the winner (minutes)", default=240, validators=[Optional()]
    )
    criterion = SelectField(
        "Winner chosen",
        choices=[
            ("clicks", "Automatically: highest click rate among contacts who consented to click tracking"),
            ("manual", "By a person, on the campaign page"),
        ],
        default="clicks",
    )


class AbVariantForm(FlaskForm):
    """One variant; an empty field takes the campaign's own value."""

    label = StringField("Name (optional)", validators=_LINE)
    subject = StringField("Subject", validators=_LINE)
    from_name = StringField("Sender name", validators=_LINE)
    body_format = SelectField(
        "Content format", choices=[("markdown", "Markdown"), ("html", "HTML")], default="markdown"
    )
    body = TextAreaField("Content", validators=_TEXT)
    text_body = TextAreaField("Text part (optional)", validators=_TEXT)
