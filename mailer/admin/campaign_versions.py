"""Safe editing of a draft: autosave from the editor, undo of the last save, restore of a kept version."""

from flask import flash, jsonify, redirect, url_for
from flask_babel import gettext
from flask_login import current_user

from mailer.admin.blueprint import bp
from mailer.admin.campaign_forms import ActionForm
from mailer.admin.campaigns import campaign_by_public_id, editor_form
from mailer.admin.language import campaign_status_name
from mailer.campaigns import drafts, versions
from mailer.campaigns.models import CampaignStatus, DraftVersion
from mailer.core.clock import utcnow
from mailer.core.extensions import db


@bp.post("/campaigns/<public_id>/autosave")
def campaign_autosave(public_id: str):
    """Save the editor's fields as they are (the editor posts them a few seconds after typing stops); JSON."""
    campaign = campaign_by_public_id(public_id)
    if campaign.status != CampaignStatus.DRAFT:
        return jsonify(
            ok=False,
            error=gettext(
                "This campaign is %(status)s; only drafts can be edited.",
                status=campaign_status_name(campaign.status),
            ),
        ), 409
    wtform = editor_form(campaign)
    wtform.validate()  # the operation checks every field and names each problem; CSRF was checked already
    try:
        versions.save(campaign, wtform.to_fields(), current_user.id, autosave=True)
    except drafts.DraftError as exc:
        db.session.rollback()
        first = next(iter(exc.errors.values()), gettext("Some fields need attention."))
        return jsonify(
            ok=False, error=gettext("Not saved yet: %(problem)s", problem=first), errors=exc.errors
        ), 400
    db.session.commit()
    return jsonify(ok=True, saved_at=utcnow().strftime("%H:%M:%S"), versions=len(versions.versions(campaign)))


@bp.post("/campaigns/autosave")
def campaign_autosave_new():
    """A new campaign's first autosave: a draft made of what was typed so far; JSON with its URLs."""
    wtform = editor_form(None)
    wtform.validate()  # parse only: the draft keeps what was typed; Save checks every field
    campaign = drafts.start_draft(wtform.to_fields(), current_user.id)
    db.session.commit()
    return jsonify(
        ok=True,
        saved_at=utcnow().strftime("%H:%M:%S"),
        edit_url=url_for("admin.campaign_edit", public_id=campaign.public_id),
        autosave_url=url_for("admin.campaign_autosave", public_id=campaign.public_id),
        preview_url=url_for("admin.campaign_preview_json", public_id=campaign.public_id),
    )


def _back(campaign):
    return redirect(url_for("admin.campaign_edit", public_id=campaign.public_id))


@bp.post("/campaigns/<public_id>/undo")
def campaign_undo(public_id: str):
    """Go back to the draft as it was before its last save."""
    campaign = campaign_by_public_id(public_id)
    if not ActionForm().validate_on_submit():
        flash(gettext("The form expired; please try again."), "danger")
        return _back(campaign)
    try:
        versions.undo_last_save(campaign, current_user.id)
    except drafts.DraftError as exc:
        db.session.rollback()
        flash(" ".join(exc.errors.values()), "danger")
        return _back(campaign)
    db.session.commit()
    flash(
        gettext(
            "The last save was undone. (Undo again to go back further; this undo is kept as a version too.)"
        ),
        "success",
    )
    return _back(campaign)


@bp.post("/campaigns/<public_id>/versions/<int:version_id>/restore")
def campaign_version_restore(public_id: str, version_id: int):
    """Bring back a kept version of the draft."""
    campaign = campaign_by_public_id(public_id)
    version = db.get_or_404(DraftVersion, version_id)
    if not ActionForm().validate_on_submit():
        flash(gettext("The form expired; please try again."), "danger")
        return _back(campaign)
    try:
        versions.restore(campaign, version, current_user.id)
    except drafts.DraftError as exc:
        db.session.rollback()
        flash(" ".join(exc.errors.values()), "danger")
        return _back(campaign)
    db.session.commit()
    flash(gettext("Version of %(time)s UTC restored.", time=f"{version.saved_at:%H:%M:%S}"), "success")
    return _back(campaign)
