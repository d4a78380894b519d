"""WTForms of the transactional templates pages (Flask-WTF adds CSRF); the rules live in
mailer/transactional/templates.py."""

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from mailer.admin.campaign_forms import optional_id

_LINE = [Length(max=1000, message=lazy_gettext("This is far too long."))]


class TxTemplateForm(FlaskForm):
    name = StringField(lazy_gettext("Name"), validators=_LINE)
    key = StringField(
        lazy_gettext("Key (what the API sends, e.g. password-reset)"),
        validators=_LINE,
        render_kw={"autocomplete": "off"},
    )
    subject = StringField(lazy_gettext("Subject"), validators=_LINE)
    body_format = RadioField(
        lazy_gettext("Body format"), choices=[("markdown", "Markdown"), ("html", "HTML")], default="markdown"
    )
    body = TextAreaField(
        lazy_gettext("Body"), validators=[Length(max=120_000, message=lazy_gettext("This is too long."))]
    )
    reply_to = StringField(
        lazy_gettext("Reply-to address (optional)"),
        validators=_LINE,
        render_kw={"type": "email", "autocomplete": "off"},
    )
    relay_id = SelectField(lazy_gettext("Send through"), coerce=optional_id)
    sample_data = TextAreaField(
        lazy_gettext("Sample merge data for the preview (JSON)"),
        validators=[Length(max=20_000, message=lazy_gettext("This is too long."))],
    )


class TxTestForm(FlaskForm):
    address = StringField(
        lazy_gettext("Send a test to"), validators=_LINE, render_kw={"type": "email", "autocomplete": "email"}
    )
    data = TextAreaField(
        lazy_gettext("Merge data (JSON)"),
        validators=[Length(max=20_000, message=lazy_gettext("The merge data is too long."))],
    )
