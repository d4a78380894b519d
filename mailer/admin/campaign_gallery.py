"""The template gallery: start a campaign from a starter or a saved template; save a campaign as one."""

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length

from mailer.admin.blueprint import bp
from mailer.admin.campaign_forms import ActionForm
from mailer.admin.campaigns import (
    campaign_by_public_id,
    preview_document,
    template_by_public_id,
)
from mailer.campaigns import drafts, gallery
from mailer.campaigns import layouts as layout_service
from mailer.core.extensions import db
from mailer.core.sentences import shown

FORMAT_NAMES = {"visual": lazy_gettext("Visual"), "html": "HTML", "markdown": "Markdown"}


class TemplateNameForm(FlaskForm):
    template_name = StringField(
        lazy_gettext("Template name"),
        validators=[Length(max=1000, message=lazy_gettext("The name is far too long."))],
    )


@bp.get("/campaigns/gallery")
def campaign_gallery():
    """Every starter template and every saved one, with a live thumbnail, to start a new campaign from."""
    layout_service.ensure_builtin_layouts()
    db.session.commit()
    return render_template(
        "admin/campaigns/gallery.html",
        starters=[(item, gallery.formats(item)) for item in gallery.STARTERS],
        templates=gallery.saved_templates(),
        format_names=FORMAT_NAMES,
        action_form=ActionForm(),
    )


def _preview_document(fields: drafts.DraftFields):
    """A template's email as a sample contact sees it: the gallery's thumbnails (sandboxed, no scripts)."""
    return preview_document(drafts.preview_campaign(fields))


@bp.get("/campaigns/gallery/<key>/preview.html")
def campaign_starter_preview(key: str):
    """A starter template rendered as the email (its HTML version)."""
    item = gallery.starter(key[:40]) or abort(404)
    return _preview_document(gallery.starter_fields(item, "html"))


@bp.get("/campaigns/templates/<public_id>/preview.html")
def campaign_template_preview(public_id: str):
    """A saved template rendered as the email."""
    return _preview_document(gallery.template_fields(template_by_public_id(public_id)))


@bp.post("/campaigns/<public_id>/save-as-template")
def campaign_save_template(public_id: str):
    """Keep this campaign's content (subject, body, design, layout) as a template in the gallery."""
    campaign = campaign_by_public_id(public_id)
    form = TemplateNameForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        template = gallery.save_as_template(campaign, form.template_name.data or "", current_user.id)
    except gallery.TemplateError as exc:
        db.session.rollback()
        flash(shown(exc), "danger")
        return redirect(url_for("admin.campaign_show", public_id=public_id, _anchor="save-template"))
    db.session.commit()
    flash(
        gettext(
            "Saved as the template “%(name)s”: it is in the gallery under New campaign.", name=template.name
        ),
        "success",
    )
    return redirect(url_for("admin.campaign_show", public_id=public_id, _anchor="save-template"))


@bp.post("/campaigns/templates/<public_id>/delete")
def campaign_template_delete(public_id: str):
    """Delete a saved template (campaigns made from it keep their content)."""
    template = template_by_public_id(public_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    gallery.delete_template(template)
    db.session.commit()
    flash(gettext("Template “%(name)s” deleted.", name=template.name), "success")
    return redirect(url_for("admin.campaign_gallery", _anchor="saved-templates"))
