"""WTForms for the privacy, settings, audit and staff pages (Flask-WTF adds CSRF to each)."""

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, EmailField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from mailer.contacts.fields import TYPE_NAMES
from mailer.contacts.models.fields import FIELD_CATEGORIES, QUASI_IDENTIFIERS
from mailer.privacy.models.requests import REQUEST_TYPES
from mailer.privacy.models.settings import RECIPIENT_ROLES
from mailer.staff.models.accounts import ROLES

STAFF_CHANNELS = [
    ("email", lazy_gettext("Email")),
    ("phone", lazy_gettext("Phone")),
    ("letter", lazy_gettext("Letter")),
    ("admin", lazy_gettext("In person / other")),
]
TYPE_CHOICES = {
    "access": lazy_gettext("Access"),
    "portability": lazy_gettext("Portability"),
    "rectification": lazy_gettext("Rectification"),
    "erasure": lazy_gettext("Erasure"),
    "restriction": lazy_gettext("Restriction"),
    "objection": lazy_gettext("Objection"),
}
RECIPIENT_ROLE_NAMES = {
    "processor": lazy_gettext("Processor"),
    "controller": lazy_gettext("Controller"),
    "integration": lazy_gettext("Integration"),
}
CATEGORY_NAMES = {
    "ordinary": lazy_gettext("Ordinary"),
    "personal_identifier": lazy_gettext("Personal identifier"),
    "sensitive": lazy_gettext("Sensitive"),
}


class ActionForm(FlaskForm):
    """A button that changes something, with an optional reason for the record."""

    reason = TextAreaField(lazy_gettext("Reason"), validators=[Optional(), Length(max=2000)])


class RequestForm(FlaskForm):
    email = EmailField(
        lazy_gettext("The person's email address"), validators=[DataRequired(), Length(max=320)]
    )
    type = SelectField(
        lazy_gettext("Right exercised"),
        choices=[(t, TYPE_CHOICES.get(t, t.capitalize())) for t in REQUEST_TYPES],
    )
    channel = SelectField(lazy_gettext("How it arrived"), choices=STAFF_CHANNELS)
    received_on = DateField(lazy_gettext("Date received"), validators=[Optional()])
    note = TextAreaField(lazy_gettext("Note (what was asked)"), validators=[Optional(), Length(max=5000)])


class ExtendForm(FlaskForm):
    reason = TextAreaField(
        lazy_gettext("Why more time is needed"), validators=[DataRequired(), Length(max=5000)]
    )
    told_on = DateField(lazy_gettext("Date the person was told"), validators=[DataRequired()])


class RevealForm(FlaskForm):
    reason = StringField(
        lazy_gettext("Why you need to see it"), validators=[DataRequired(), Length(min=5, max=500)]
    )


class RectifyForm(FlaskForm):
    name = StringField(lazy_gettext("Name"), validators=[Optional(), Length(max=200)])
    email = EmailField(
        lazy_gettext("Email address (a change is confirmed by the new address first)"),
        validators=[Optional(), Length(max=320)],
    )


class SettingsForm(FlaskForm):
    controller_name = StringField(
        lazy_gettext("Organisation (controller)"), validators=[DataRequired(), Length(max=200)]
    )
    controller_address = TextAreaField(
        lazy_gettext("Postal address"), validators=[Optional(), Length(max=2000)]
    )
    controller_email = EmailField(
        lazy_gettext("Privacy contact email"), validators=[Optional(), Length(max=320)]
    )
    dpo_name = StringField(lazy_gettext("Data protection officer"), validators=[Optional(), Length(max=200)])
    dpo_email = EmailField(lazy_gettext("DPO email"), validators=[Optional(), Length(max=320)])
    authority_name = StringField(
        lazy_gettext("Supervisory authority"), validators=[Optional(), Length(max=200)]
    )
    authority_url = StringField(lazy_gettext("Its website"), validators=[Optional(), Length(max=500)])
    home_country = StringField(
        lazy_gettext("Where data is normally kept"), validators=[Optional(), Length(max=80)]
    )
    unconfirmed_signups = IntegerField(
        lazy_gettext("Unconfirmed sign-ups (days)"), validators=[DataRequired(), NumberRange(1, 3650)]
    )
    tracking_events = IntegerField(
        lazy_gettext("Tracking events (days)"), validators=[DataRequired(), NumberRange(1, 3650)]
    )
    bounce_logs = IntegerField(
        lazy_gettext("Bounce logs (days)"), validators=[DataRequired(), NumberRange(1, 3650)]
    )
    import_files = IntegerField(  # blank keeps the default lifetime
        lazy_gettext("Import files (days)"), validators=[Optional(), NumberRange(1, 3650)]
    )
    transactional_messages = IntegerField(  # blank keeps the default lifetime
        lazy_gettext("Transactional sent log addresses (days)"), validators=[Optional(), NumberRange(1, 3650)]
    )
    inactive_contacts = IntegerField(
        lazy_gettext("Contacts without interaction (days)"), validators=[DataRequired(), NumberRange(1, 3650)]
    )
    repermission_enabled = BooleanField(lazy_gettext("Email inactive contacts before erasing them"))
    repermission_grace_days = IntegerField(
        lazy_gettext("Days to answer that email"), validators=[DataRequired(), NumberRange(1, 365)]
    )
    reminder_days = IntegerField(
        lazy_gettext("Warn staff this many days before a request is due"),
        validators=[DataRequired(), NumberRange(1, 30)],
    )
    other_uses = TextAreaField(
        lazy_gettext("Uses without consent, one per line: name | legal basis | description"),
        validators=[Optional(), Length(max=10000)],
    )
    automated_decisions = TextAreaField(
        lazy_gettext("Automated decisions"), validators=[Optional(), Length(max=5000)]
    )
    provision_consequences = TextAreaField(
        lazy_gettext("What happens if people do not give their data"),
        validators=[Optional(), Length(max=5000)],
    )
    security_measures = TextAreaField(
        lazy_gettext("Security measures (Art. 30(1)(g))"), validators=[Optional(), Length(max=5000)]
    )


class RecipientForm(FlaskForm):
    name = StringField(lazy_gettext("Name"), validators=[DataRequired(), Length(max=200)])
    role = SelectField(
        lazy_gettext("Role"),
        choices=[(r, RECIPIENT_ROLE_NAMES.get(r, r.capitalize())) for r in RECIPIENT_ROLES],
    )
    purpose = TextAreaField(
        lazy_gettext("What they do with the data"), validators=[Optional(), Length(max=2000)]
    )
    data_categories = TextAreaField(lazy_gettext("Which data"), validators=[Optional(), Length(max=2000)])
    country = StringField(lazy_gettext("Country"), validators=[Optional(), Length(max=80)])
    outside_eea = BooleanField(lazy_gettext("Outside the EU/EEA"))
    safeguard = TextAreaField(
        lazy_gettext("Transfer safeguard (adequacy decision, SCCs …)"),
        validators=[Optional(), Length(max=2000)],
    )
    contact = StringField(lazy_gettext("Contact for notifications"), validators=[Optional(), Length(max=320)])
    notify_changes = BooleanField(
        lazy_gettext("Tell them about corrections, erasures and restrictions (Art. 19)"), default=True
    )
    active = BooleanField(lazy_gettext("Active"), default=True)


class FieldForm(FlaskForm):
    key = StringField(lazy_gettext("Key"), validators=[DataRequired(), Length(max=60)])
    label = StringField(lazy_gettext("Label"), validators=[DataRequired(), Length(max=120)])
    category = SelectField(
        lazy_gettext("Category"),
        choices=[(c, CATEGORY_NAMES.get(c, c.replace("_", " ").capitalize())) for c in FIELD_CATEGORIES],
    )
    value_type = SelectField(
        lazy_gettext("Type of value"),
        choices=list(TYPE_NAMES.items()),
        validate_choice=False,
    )  # missing means text; define_field refuses unknown types
    choices = TextAreaField(
        lazy_gettext("Choices (for a single- or multiple-choice field: one per line)"),
        validators=[Optional(), Length(max=6000)],
    )
    quasi_identifier = SelectField(
        lazy_gettext("Quasi-identifier (coarsened on erasure)"),
        choices=[(q, q.replace("_", " ") or lazy_gettext("no")) for q in QUASI_IDENTIFIERS],
    )
    help_text = TextAreaField(lazy_gettext("Help text"), validators=[Optional(), Length(max=2000)])


class InviteForm(FlaskForm):
    email = EmailField(lazy_gettext("Their email"), validators=[DataRequired(), Length(max=320)])
    role = SelectField(
        lazy_gettext("Role"), choices=[(r, r) for r in ROLES], default="viewer"
    )  # least privilege unless chosen


class RoleForm(FlaskForm):
    role = SelectField(lazy_gettext("Role"), choices=[(r, r) for r in ROLES])
