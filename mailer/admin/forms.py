"""WTForms classes for the admin (Flask-WTF adds CSRF to each)."""

from flask_babel import LazyString, lazy_gettext
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional

from mailer.core import i18n


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice rendered as a list of checkboxes."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class LoginForm(FlaskForm):
    email = EmailField(
        lazy_gettext("Email"), validators=[DataRequired(), Length(max=320)], render_kw={"autofocus": True}
    )
    password = PasswordField(lazy_gettext("Password"), validators=[DataRequired(), Length(max=1024)])


class SetupForm(FlaskForm):
    email = EmailField(
        lazy_gettext("Your email"),
        validators=[DataRequired(), Length(max=320)],
        render_kw={"autofocus": True},
    )
    password = PasswordField(lazy_gettext("Password"), validators=[DataRequired(), Length(min=10, max=1024)])
    confirm = PasswordField(
        lazy_gettext("Repeat the password"),
        validators=[EqualTo("password", lazy_gettext("The passwords don't match."))],
    )


class InviteAcceptForm(FlaskForm):
    password = PasswordField(
        lazy_gettext("Choose a password"),
        validators=[DataRequired(), Length(min=10, max=1024)],
        render_kw={"autofocus": True, "autocomplete": "new-password"},
    )
    confirm = PasswordField(
        lazy_gettext("Repeat the password"),
        validators=[EqualTo("password", lazy_gettext("The passwords don't match."))],
        render_kw={"autocomplete": "new-password"},
    )


def _one_time_code(label: LazyString, autofocus: bool = False) -> StringField:
    """A field for a code from an authenticator app (or a recovery code): phones offer digits and autofill."""
    extra = {"autofocus": True} if autofocus else {}
    return StringField(
        label,
        validators=[DataRequired(), Length(max=40)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false", **extra},
    )


class SecondFactorForm(FlaskForm):
    code = _one_time_code(lazy_gettext("Code"), autofocus=True)


class TotpCodeForm(FlaskForm):
    code = _one_time_code(lazy_gettext("6-digit code from the app"))


class TotpEnrolForm(FlaskForm):
    code = _one_time_code(lazy_gettext("6-digit code from the app"), autofocus=True)


class PasswordChangeForm(FlaskForm):
    current = PasswordField(
        lazy_gettext("Current password"),
        validators=[DataRequired(), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    password = PasswordField(
        lazy_gettext("New password"),
        validators=[DataRequired(), Length(min=10, max=1024)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        lazy_gettext("Repeat the new password"),
        validators=[EqualTo("password", lazy_gettext("The passwords don't match."))],
        render_kw={"autocomplete": "new-password"},
    )


class LanguageForm(FlaskForm):
    """The admin's language of the person logged in: one of the shipped languages, or the browser's."""

    language = SelectField(
        lazy_gettext("Language"),
        choices=[("", lazy_gettext("Follow the browser")), *i18n.language_choices()],
        validate_choice=True,
    )


class ListForm(FlaskForm):
    name = StringField(lazy_gettext("Name"), validators=[DataRequired(), Length(max=120)])
    description = TextAreaField(lazy_gettext("Public description"), validators=[Length(max=5000)])
    visibility = SelectField(
        lazy_gettext("Visibility"),
        choices=[
            ("public", lazy_gettext("Public — offered in the preference centre")),
            ("private", lazy_gettext("Private — only staff can add people")),
        ],
    )


class SignupFormForm(FlaskForm):
    name = StringField(lazy_gettext("Internal name"), validators=[DataRequired(), Length(max=120)])
    slug = StringField(lazy_gettext("Slug (used in the URL)"), validators=[DataRequired(), Length(max=60)])
    title = StringField(lazy_gettext("Heading"), validators=[DataRequired(), Length(max=200)])
    intro = TextAreaField(lazy_gettext("Introduction"), validators=[Length(max=5000)])
    button_label = StringField(lazy_gettext("Button label"), validators=[DataRequired(), Length(max=60)])
    lists = MultiCheckboxField(lazy_gettext("Lists offered"), coerce=int)
    purposes = MultiCheckboxField(lazy_gettext("Other purposes asked for (unticked checkboxes)"), coerce=int)
    ask_name = BooleanField(lazy_gettext("Ask for a name"))
    require_name = BooleanField(lazy_gettext("Name is required"))
    min_age = IntegerField(
        lazy_gettext("Minimum age to confirm (empty: none)"), validators=[Optional(), NumberRange(13, 21)]
    )
    privacy_text = TextAreaField(lazy_gettext("Privacy text under the form"), validators=[Length(max=5000)])
    allowed_origins = TextAreaField(
        lazy_gettext("Allowed origins (one per line; empty: any website)"), validators=[Length(max=5000)]
    )
    success_message = TextAreaField(lazy_gettext("Success message"), validators=[Length(max=2000)])
    redirect_url = StringField(
        lazy_gettext("Or redirect to (optional)"), validators=[Optional(), Length(max=500)]
    )
    after_confirm_url = StringField(
        lazy_gettext("After confirming, send people to (optional)"), validators=[Optional(), Length(max=500)]
    )
    wording_language = SelectField(
        lazy_gettext("Language of this wording"),
        choices=i18n.language_choices(),
        default=i18n.DEFAULT_LANGUAGE,
    )
    languages = MultiCheckboxField(lazy_gettext("Published in"), choices=i18n.language_choices())
    language = SelectField(
        lazy_gettext("Language shown to visitors"),
        choices=[
            ("", lazy_gettext("Follow each visitor's browser (among the published languages)")),
            *i18n.language_choices(),
        ],
        default="",
    )
    active = BooleanField(lazy_gettext("Active"))


class FormWordingForm(FlaskForm):
    """A form's words in another language (checkbox and field labels are read from the request)."""

    title = StringField(lazy_gettext("Heading"), validators=[DataRequired(), Length(max=200)])
    intro = TextAreaField(lazy_gettext("Introduction"), validators=[Length(max=5000)])
    button_label = StringField(lazy_gettext("Button label"), validators=[DataRequired(), Length(max=60)])
    privacy_text = TextAreaField(lazy_gettext("Privacy text under the form"), validators=[Length(max=5000)])
    success_message = TextAreaField(lazy_gettext("Success message"), validators=[Length(max=2000)])
    publish = BooleanField(lazy_gettext("Publish the form in this language"), default=True)


class TagForm(FlaskForm):
    tag = StringField(lazy_gettext("Tag"), validators=[DataRequired(), Length(max=60)])


class BulkForm(FlaskForm):
    """A bulk action over ticked contacts or a segment (the fields are read from the request; CSRF here)."""
