"""WTForms of the transactional templates pages (Flask-WTF adds CSRF); the rules live in
mailer/transactional/templates.py."""

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from mailer.admin.campaign_forms import optional_id

_LINE = [Length(max=1000, message="This is far too long.")]


class TxTemplateForm(FlaskForm):
    name = StringField("Name", validators=_LINE)
    key = StringField(
        "Key (what the API sends, e.g. password-reset)", validators=_LINE, render_kw={"autocomplete": "off"}
    )
    subject = StringField("Subject", validators=_LINE)
    body_format = RadioField(
        "Body format", choices=[("markdown", "Markdown"), ("html", "HTML")], default="markdown"
    )
    body = TextAreaField("Body", validators=[Length(max=120_000, message="This is too long.")])
    reply_to = StringField(
        "Reply-to address (optional)", validators=_LINE, render_kw={"type": "email", "autocomplete": "off"}
    )
    relay_id = SelectField("Send through", coerce=optional_id)
    sample_data = TextAreaField("Sample merge data for the preview (JSON)", validators=[Length(max=20_000)])


class TxTestForm(FlaskForm):
    address = StringField(
        "Send a test to", validators=_LINE, render_kw={"type": "email", "autocomplete": "email"}
    )
    data = TextAreaField(
        "Merge data (JSON)", validators=[Length(max=20_000, message="The merge data is too long.")]
    )
