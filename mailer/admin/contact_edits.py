"""Contacts changed by staff: add one by hand (on a stated consent basis, or by sending a double opt-in) and
edit the name and ordinary fields (audited, without a privacy request)."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select
from wtforms import RadioField, StringField, TextAreaField
from wtforms.validators import Length

from mailer.admin.blueprint import bp
from mailer.admin.forms import MultiCheckboxField
from mailer.contacts import fields
from mailer.contacts.models.contact import Contact
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.core.sentences import shown
from mailer.privacy.rectification import staff_edit
from mailer.subscriptions.lists import active_lists, lists_by_public_id
from mailer.subscriptions.manual import ContactExists, ContactRefused, NewContact, add_contact
from mailer.subscriptions.operations import Basis


class NewContactForm(FlaskForm):
    email = StringField(
        lazy_gettext("Email address"), validators=[Length(max=320)], render_kw={"autocomplete": "off"}
    )
    name = StringField(lazy_gettext("Name (optional)"), validators=[Length(max=200)])
    lists = MultiCheckboxField(lazy_gettext("Lists"))
    basis = RadioField(
        lazy_gettext("Legal basis"),
        default=Basis.PRIOR_CONSENT.value,
        choices=[
            (Basis.PRIOR_CONSENT.value, lazy_gettext("They consented and I can say where and how")),
            (
                Basis.DOUBLE_OPT_IN.value,
                lazy_gettext("Send them a double opt-in email instead: added once they confirm"),
            ),
        ],
    )
    statement = TextAreaField(
        lazy_gettext(
            "Where and how did they consent? (required for the first option; stored in the consent ledger)"
        ),
        validators=[Length(max=5000)],
    )


class EditContactForm(FlaskForm):
    name = StringField(lazy_gettext("Name"), validators=[Length(max=200)])


def _ordinary_fields() -> list:
    return [f for f in fields.all_fields() if not f.is_sensitive]


def _typed_values(defined: list) -> dict[str, str]:
    """The value typed (or ticked: several choices joined as stored) for each field."""
    return {
        f.key: "; ".join(request.form.getlist(f"field_{f.key}"))
        if f.value_type == "multiple_choice"
        else request.form.get(f"field_{f.key}", "")
        for f in defined
    }


@bp.route("/contacts/new", methods=["GET", "POST"])
def contact_new():
    """Add a contact by hand: address, name, ordinary fields, lists, and a consent basis or double opt-in."""
    form = NewContactForm()
    lists = active_lists()  # an archived list takes nobody new
    form.lists.choices = [(lst.public_id, lst.name) for lst in lists]
    defined = _ordinary_fields()
    values = _typed_values(defined) if request.method == "POST" else {}
    if form.validate_on_submit():
        chosen = lists_by_public_id(form.lists.data or [])
        new = NewContact(
            email=form.email.data or "",
            name=form.name.data or "",
            lists=[chosen[key] for key in form.lists.data or [] if key in chosen],
            basis=Basis(form.basis.data),
            statement=form.statement.data or "",
            values={key: value for key, value in values.items() if value.strip()},
        )
        try:
            added = add_contact(new, current_user, request.remote_addr)
        except ContactExists as exc:
            db.session.rollback()
            link = url_for("admin.contact_show", public_id=exc.contact.public_id)
            flash(
                Markup('{} <a href="{}">{}</a>.').format(
                    shown(exc), link, gettext("Open the existing contact")
                ),
                "danger",
            )
        except ContactRefused as exc:
            db.session.rollback()
            flash(shown(exc), "danger")
        else:
            if added.granted:
                names = ", ".join(lst.name for lst in added.granted)
                flash(gettext("Contact added to %(lists)s.", lists=names), "success")
            else:
                flash(
                    gettext(
                        "Contact added; a confirmation email was sent: they join the lists once they confirm."
                    )
                    if added.invited
                    else gettext(
                        "Contact added; they are asked to confirm by email (the email is held back for now "
                        "because of the sending limits for this address or domain)."
                    ),
                    "success",
                )
            return redirect(url_for("admin.contact_show", public_id=added.contact.public_id))
    return render_template(
        "admin/contacts/new.html", form=form, fields=defined, values=values
    ), 400 if request.method == "POST" else 200


@bp.route("/contacts/<public_id>/edit", methods=["GET", "POST"])
def contact_edit(public_id: str):
    """Change a contact's name and ordinary fields; the audit log names the fields changed, not the values."""
    contact = db.one_or_404(select(Contact).where(Contact.public_id == public_id))
    form = EditContactForm(obj=contact)
    defined = _ordinary_fields()
    if form.validate_on_submit():
        try:
            applied = staff_edit(
                contact, form.name.data or "", _typed_values(defined), current_user, request.remote_addr
            )
        except PrivacyError as exc:
            db.session.rollback()
            flash(shown(exc), "danger")
        else:
            flash(
                gettext("Saved: %(fields)s.", fields=", ".join(applied))
                if applied
                else gettext("Saved: nothing changed."),
                "success",
            )
            return redirect(url_for("admin.contact_show", public_id=contact.public_id))
    values = (
        _typed_values(defined)
        if request.method == "POST"
        else {f.key: fields.read_value(contact, f) or "" for f in defined}
    )
    return render_template(
        "admin/contacts/edit.html", contact=contact, form=form, fields=defined, values=values
    ), 400 if request.method == "POST" else 200
