"""WTForms for the privacy, settings, audit and staff pages (Flask-WTF adds CSRF to each)."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, EmailField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from mailer.contacts.fields import TYPE_NAMES
from mailer.contacts.models.fields import FIELD_CATEGORIES, QUASI_IDENTIFIERS
from mailer.privacy.models.requests import REQUEST_TYPES
from mailer.privacy.models.settings import RECIPIENT_ROLES
from mailer.staff.models.accounts import ROLES

STAFF_CHANNELS = [
    ("email", "Email"),
    ("phone", "Phone"),
    ("letter", "Letter"),
    ("admin", "In person / other"),
]


class ActionForm(FlaskForm):
    """A button that changes something, with an optional reason for the record."""

    reason = TextAreaField("Reason", validators=[Optional(), Length(max=2000)])


class RequestForm(FlaskForm):
    email = EmailField("The person's email address", validators=[DataRequired(), Length(max=320)])
    type = SelectField("Right exercised", choices=[(t, t.capitalize()) for t in REQUEST_TYPES])
    channel = SelectField("How it arrived", choices=STAFF_CHANNELS)
    received_on = DateField("Date received", validators=[Optional()])
    note = TextAreaField("Note (what was asked)", validators=[Optional(), Length(max=5000)])


class ExtendForm(FlaskForm):
    reason = TextAreaField("Why more time is needed", validators=[DataRequired(), Length(max=5000)])
    told_on = DateField("Date the person was told", validators=[DataRequired()])


class RevealForm(FlaskForm):
    reason = StringField("Why you need to see it", validators=[DataRequired(), Length(min=5, max=500)])


class RectifyForm(FlaskForm):
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    email = EmailField(
        "Email address (a change is confirmed by the new address first)",
        validators=[Optional(), Length(max=320)],
    )


class SettingsForm(FlaskForm):
    controller_name = StringField("Organisation (controller)", validators=[DataRequired(), Length(max=200)])
    controller_address = TextAreaField("Postal address", validators=[Optional(), Length(max=2000)])
    controller_email = EmailField("Privacy contact email", validators=[Optional(), Length(max=320)])
    dpo_name = StringField("Data protection officer", validators=[Optional(), Length(max=200)])
    dpo_email = EmailField("DPO email", validators=[Optional(), Length(max=320)])
    authority_name = StringField("Supervisory authority", validators=[Optional(), Length(max=200)])
    authority_url = StringField("Its website", validators=[Optional(), Length(max=500)])
    home_country = StringField("Where data is normally kept", validators=[Optional(), Length(max=80)])
    unconfirmed_signups = IntegerField(
        "Unconfirmed sign-ups (days)", validators=[DataRequired(), NumberRange(1, 3650)]
    )
    tracking_events = IntegerField(
        "Tracking events (days)", validators=[DataRequired(), NumberRange(1, 3650)]
    )
    bounce_logs = IntegerField("Bounce logs (days)", validators=[DataRequired(), NumberRange(1, 3650)])
    import_files = IntegerField(  # blank keeps the default lifetime
        "Import files (days)", validators=[Optional(), NumberRange(1, 3650)]
    )
    transactional_messages = IntegerField(  # blank keeps the default lifetime
        "Transactional sent log addresses (days)", validators=[Optional(), NumberRange(1, 3650)]
    )
    inactive_contacts = IntegerField(
        "Contacts without interaction (days)", validators=[DataRequired(), NumberRange(1, 3650)]
    )
    repermission_enabled = BooleanField("Email inactive contacts before erasing them")
    repermission_grace_days = IntegerField(
        "Days to answer that email", validators=[DataRequired(), NumberRange(1, 365)]
    )
    reminder_days = IntegerField(
        "Warn staff this many days before a request is due", validators=[DataRequired(), NumberRange(1, 30)]
    )
    other_uses = TextAreaField(
        "Uses without consent, one per line: name | legal basis | description",
        validators=[Optional(), Length(max=10000)],
    )
    automated_decisions = TextAreaField("Automated decisions", validators=[Optional(), Length(max=5000)])
    provision_consequences = TextAreaField(
        "What happens if people do not give their data", validators=[Optional(), Length(max=5000)]
    )
    security_measures = TextAreaField(
        "Security measures (Art. 30(1)(g))", validators=[Optional(), Length(max=5000)]
    )


class RecipientForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    role = SelectField("Role", choices=[(r, r.capitalize()) for r in RECIPIENT_ROLES])
    purpose = TextAreaField("What they do with the data", validators=[Optional(), Length(max=2000)])
    data_categories = TextAreaField("Which data", validators=[Optional(), Length(max=2000)])
    country = StringField("Country", validators=[Optional(), Length(max=80)])
    outside_eea = BooleanField("Outside the EU/EEA")
    safeguard = TextAreaField(
        "Transfer safeguard (adequacy decision, SCCs …)", validators=[Optional(), Length(max=2000)]
    )
    contact = StringField("Contact for notifications", validators=[Optional(), Length(max=320)])
    notify_changes = BooleanField(
        "Tell them about corrections, erasures and restrictions (Art. 19)", default=True
    )
    active = BooleanField("Active", default=True)


class FieldForm(FlaskForm):
    key = StringField("Key", validators=[DataRequired(), Length(max=60)])
    label = StringField("Label", validators=[DataRequired(), Length(max=120)])
    category = SelectField(
        "Category", choices=[(c, c.replace("_", " ").capitalize()) for c in FIELD_CATEGORIES]
    )
    value_type = SelectField(
        "Type of value",
        choices=list(TYPE_NAMES.items()),
        validate_choice=False,
    )  # missing means text; define_field refuses unknown types
    choices = TextAreaField(
        "Choices (for a single- or multiple-choice field: one per line)",
        validators=[Optional(), Length(max=6000)],
    )
    quasi_identifier = SelectField(
        "Quasi-identifier (coarsened on erasure)",
        choices=[(q, q.replace("_", " ") or "no") for q in QUASI_IDENTIFIERS],
    )
    help_text = TextAreaField("Help text", validators=[Optional(), Length(max=2000)])


class InviteForm(FlaskForm):
    email = EmailField("Their email", validators=[DataRequired(), Length(max=320)])
    role = SelectField(
        "Role", choices=[(r, r) for r in ROLES], default="viewer"
    )  # least privilege unless chosen


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=[(r, r) for r in ROLES])
