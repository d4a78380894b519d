"""Settings → Organisation: the name, postal address, sender, reply-to and website every message and page
uses."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext, ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField, TextAreaField, URLField

from mailer.admin.blueprint import bp
from mailer.campaigns import brand_layouts
from mailer.core.extensions import db
from mailer.core.sentences import shown
from mailer.media import library
from mailer.organisation import brand
from mailer.organisation import settings as organisation_settings

LABELS = {
    "name": lazy_gettext("Organisation name"),
    "postal_address": lazy_gettext("Postal address"),
    "from_name": lazy_gettext("Sender name"),
    "from_email": lazy_gettext("Sender address"),
    "reply_to": lazy_gettext("Reply-to address (optional)"),
    "website": lazy_gettext("Website (optional)"),
}
HELP = {
    "name": lazy_gettext("Shown on every page and email."),
    "postal_address": lazy_gettext("Printed in every marketing email's footer (the law requires it)."),
    "from_name": lazy_gettext("The name people see as the sender (a campaign can use its own)."),
    "from_email": lazy_gettext(
        "Mail is sent from this address; set up DKIM for its domain under Deliverability."
    ),
    "reply_to": lazy_gettext("Where replies go, if not to the sender address."),
    "website": lazy_gettext(
        "Every public page (confirmation, preference centre, unsubscribe, forms, privacy requests) "
        "links back to it, e.g. https://www.example.com."
    ),
}


class OrganisationForm(FlaskForm):
    """The fields of Settings → Organisation (checked by the operation, which names each problem)."""

    name = StringField(LABELS["name"])
    postal_address = TextAreaField(LABELS["postal_address"])
    from_name = StringField(LABELS["from_name"])
    from_email = EmailField(LABELS["from_email"])
    reply_to = EmailField(LABELS["reply_to"])
    website = URLField(LABELS["website"])


class BrandForm(FlaskForm):
    """Colours, font, logo and footer line (checked by the operation, contrast included)."""

    colour = StringField(lazy_gettext("Brand colour"), render_kw={"type": "color"})
    text_colour = StringField(lazy_gettext("Text colour on the brand colour"), render_kw={"type": "color"})
    font = SelectField(
        lazy_gettext("Font"), choices=[(key, label) for key, (label, _) in brand.FONT_STACKS.items()]
    )
    logo_url = SelectField(lazy_gettext("Logo (from the media library)"))
    footer_text = TextAreaField(lazy_gettext("Footer text (shown on public pages and system emails)"))


def _brand_form(formdata=None) -> BrandForm:
    values = brand.current()
    form = BrandForm(formdata=formdata, data=values) if formdata is None else BrandForm()
    logos = [("", gettext("No logo"))]
    for item in library.library():
        names = item.variant_names()
        logos.append(
            (
                library.public_url(names[min(names)] if names else item.file_name),
                item.original_name or item.file_name,
            )
        )
    form.logo_url.choices = logos
    return form


def _overridden_fields() -> dict[str, str]:
    """Form field -> the environment variable that sets it."""
    environment = organisation_settings.set_by_environment()
    return {
        field: environment[setting]
        for field, setting in organisation_settings.OVERRIDES_BY_FIELD.items()
        if setting in environment
    }


@bp.route("/organisation", methods=["GET", "POST"])
def organisation_settings_page():
    """Who sends: filled in once on a fresh install; environment variables, when set, win."""
    overridden = _overridden_fields()
    form = OrganisationForm(obj=organisation_settings.stored() if request.method == "GET" else None)
    stored = organisation_settings.stored()
    for name in overridden:
        form[name].render_kw = {"disabled": True}
        form[name].data = getattr(stored, name)
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            data = organisation_settings.OrganisationInput(**{k: form[k].data or "" for k in LABELS})
            try:
                changed = organisation_settings.save(data, actor=current_user, ip=request.remote_addr)
            except organisation_settings.SettingsRefused as exc:
                db.session.rollback()
                for name, message in exc.errors.items():
                    form[name].errors = [shown(message)]
            else:
                db.session.commit()
                flash(
                    gettext("Organisation settings saved.") if changed else gettext("Nothing changed."),
                    "success",
                )
                return redirect(url_for("admin.organisation_settings_page"))
    return _page(form, overridden, _brand_form(), status)


def _page(form, overridden, brand_form, status=200):
    return render_template(
        "admin/organisation.html",
        form=form,
        help=HELP,
        overridden=overridden,
        brand_form=brand_form,
        following=len(brand_layouts.following()),
    ), status


@bp.post("/organisation/brand")
def organisation_brand():
    """Save the brand; a colour pair below WCAG AA is refused with the ratio and what to change."""
    form = _brand_form(formdata=request.form)
    overridden = _overridden_fields()
    stored = OrganisationForm(obj=organisation_settings.stored())
    for name in overridden:
        stored[name].render_kw = {"disabled": True}
    if form.validate_on_submit():
        keys = ("colour", "text_colour", "font", "logo_url", "footer_text")
        data = brand.BrandInput(**{k: form[k].data or "" for k in keys})
        try:
            changed, updated = brand_layouts.save_brand(data, actor=current_user, ip=request.remote_addr)
        except brand.BrandRefused as exc:
            db.session.rollback()
            for name, message in exc.errors.items():
                form[name].errors = [shown(message)]
        else:
            db.session.commit()
            message = gettext("Brand saved.") if changed else gettext("Nothing changed.")
            if updated:
                message += " " + ngettext(
                    "%(num)d visual layout now shows the new brand.",
                    "%(num)d visual layouts now show the new brand.",
                    len(updated),
                )
            flash(message, "success")
            return redirect(url_for("admin.organisation_settings_page", _anchor="brand"))
    return _page(stored, overridden, form, 400)
