"""WTForms for the campaign editor and the layout editor (Flask-WTF adds CSRF to each).

The fields only parse; the rules and their messages live in services/campaign_drafts.py and
services/layouts.py.
"""

from flask_babel import lazy_gettext
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
_LINE = [Length(max=1000, message=lazy_gettext("This is far too long."))]
_TEXT = [Length(max=120_000, message=lazy_gettext("This is too long (100,000 characters at most)."))]


def optional_id(value) -> int | None:
    """A select's value as an id, or None for its empty choice (a value that is no number is refused)."""
    if value in (None, "", "None"):
        return None
    return int(value)


class CampaignForm(FlaskForm):
    name = StringField(lazy_gettext("Campaign name"), validators=_LINE)
    subject = StringField(lazy_gettext("Subject"), validators=_LINE)
    preheader = StringField(lazy_gettext("Preheader (the preview line after the subject)"), validators=_LINE)
    from_name = StringField(lazy_gettext("Sender name"), validators=_LINE)
    from_email = StringField(
        lazy_gettext("Sender address"), validators=_LINE, render_kw={"type": "email", "autocomplete": "off"}
    )
    reply_to = StringField(
        lazy_gettext("Reply-to address (optional)"),
        validators=_LINE,
        render_kw={"type": "email", "autocomplete": "off"},
    )
    lists = MultiCheckboxField(lazy_gettext("Send to these lists"), coerce=int)
    exclusion_lists = MultiCheckboxField(lazy_gettext("Leave out members of these lists"), coerce=int)
    segments = MultiCheckboxField(lazy_gettext("Send to these segments"), coerce=int)
    layout_id = SelectField(lazy_gettext("Layout"), coerce=int)
    body_format = RadioField(
        lazy_gettext("Body format"),
        choices=[("visual", lazy_gettext("Visual")), ("markdown", "Markdown"), ("html", "HTML")],
        default="markdown",
    )
    body = TextAreaField(lazy_gettext("Body"), validators=_TEXT)
    body_project = HiddenField(
        validators=[Length(max=130_000, message=lazy_gettext("The visual design is too large."))]
    )
    text_body = TextAreaField(lazy_gettext("Text part (optional)"), validators=_TEXT)
    track_opens = BooleanField(lazy_gettext("Track opens"))
    track_clicks = BooleanField(lazy_gettext("Track clicks"))
    send_at = StringField(
        lazy_gettext("Planned send time (optional)"),
        validators=[Length(max=40)],
        render_kw={"type": "datetime-local"},
    )
    timezone = SelectField(lazy_gettext("Time zone"))
    relay_id = SelectField(lazy_gettext("Send through"), coerce=optional_id)
    failover_relay_id = SelectField(lazy_gettext("If that relay is down, fail over to"), coerce=optional_id)

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
    addresses = TextAreaField(
        lazy_gettext("Send a test to"),
        validators=[Length(max=2000, message=lazy_gettext("Too many addresses."))],
    )


class ScheduleForm(FlaskForm):
    send_at = StringField(
        lazy_gettext("Send at"), validators=[Length(max=40)], render_kw={"type": "datetime-local"}
    )
    timezone = SelectField(lazy_gettext("Time zone"))


class ActionForm(FlaskForm):
    """A button that only needs CSRF (send, pause, resume, cancel, delete, copy)."""


class LayoutForm(FlaskForm):
    name = StringField(
        lazy_gettext("Name"), validators=[Length(max=1000, message=lazy_gettext("The name is far too long."))]
    )
    html = TextAreaField(
        "HTML", validators=[Length(max=200_000, message=lazy_gettext("The HTML is too long."))]
    )
    html_format = RadioField(
        lazy_gettext("Made with"),
        choices=[("visual", lazy_gettext("Visual editor")), ("html", lazy_gettext("HTML code"))],
        default="html",
    )
    project = HiddenField(
        validators=[Length(max=130_000, message=lazy_gettext("The visual design is too large."))]
    )


class AbSettingsForm(FlaskForm):
    """An A/B test's settings; the ranges and their messages are mailer.campaigns.ab_testing's."""

    enabled = BooleanField(lazy_gettext("Run this campaign as an A/B test"))
    test_percent = IntegerField(
        lazy_gettext("Test share (%(percent)s of the audience)", percent="%"),
        default=20,
        validators=[Optional()],
    )
    wait_minutes = IntegerField(
        lazy_gettext("Wait before choosing the winner (minutes)"), default=240, validators=[Optional()]
    )
    criterion = SelectField(
        lazy_gettext("Winner chosen"),
        choices=[
            (
                "clicks",
                lazy_gettext(
                    "Automatically: highest click rate among contacts who consented to click tracking"
                ),
            ),
            ("manual", lazy_gettext("By a person, on the campaign page")),
        ],
        default="clicks",
    )


class AbVariantContentForm(FlaskForm):
    """One variant's content in the visual editor (or as HTML); an empty body sends the campaign's own."""

    body_format = RadioField(
        lazy_gettext("Content made with"),
        choices=[
            ("visual", lazy_gettext("Visual editor")),
            ("html", lazy_gettext("HTML code")),
            ("markdown", lazy_gettext("Markdown")),
        ],
        default="visual",
    )
    body = TextAreaField(lazy_gettext("Content"), validators=_TEXT)
    body_project = HiddenField(
        validators=[Length(max=130_000, message=lazy_gettext("The visual design is too large."))]
    )
    text_body = TextAreaField(lazy_gettext("Text part (optional)"), validators=_TEXT)


class AbVariantForm(FlaskForm):
    """One variant; an empty field takes the campaign's own value."""

    label = StringField(lazy_gettext("Name (optional)"), validators=_LINE)
    subject = StringField(lazy_gettext("Subject"), validators=_LINE)
    from_name = StringField(lazy_gettext("Sender name"), validators=_LINE)
    body_format = SelectField(
        lazy_gettext("Content format"),
        choices=[("markdown", "Markdown"), ("html", "HTML")],
        default="markdown",
    )
    body = TextAreaField(lazy_gettext("Content"), validators=_TEXT)
    text_body = TextAreaField(lazy_gettext("Text part (optional)"), validators=_TEXT)
