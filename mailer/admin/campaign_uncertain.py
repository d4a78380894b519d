"""A campaign's uncertain deliveries: listed page by page, and
resent only by an owner's or admin's explicit decision."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user

from mailer.admin.blueprint import bp
from mailer.admin.campaign_forms import ActionForm
from mailer.admin.campaigns import campaign_by_public_id
from mailer.campaigns.models import Campaign
from mailer.campaigns.resend import MAX_CHOSEN, ResendError, none_chosen, resend_uncertain, too_many
from mailer.core.sentences import shown
from mailer.core.web import db_int
from mailer.delivery import report as delivery_report


def _list_page(campaign: Campaign, status: int = 200, error: str = ""):
    after = max(0, request.args.get("after", 0, type=db_int) or 0)
    rows, next_after = delivery_report.uncertain_page(campaign.id, after)
    return render_template(
        "admin/campaigns/uncertain.html",
        campaign=campaign,
        rows=rows,
        next_after=next_after,
        after=after,
        total=delivery_report.uncertain_count(campaign.id),
        error=error,
    ), status


@bp.get("/campaigns/<public_id>/uncertain")
def campaign_uncertain(public_id: str):
    """The uncertain deliveries of a campaign (keyset pages),
    what uncertain means, and the way to resend them."""
    return _list_page(campaign_by_public_id(public_id))


def _chosen(source) -> list[int] | None:
    """None for "all", else the delivery ids ticked (ResendError for anything that is not one)."""
    if source.get("all") == "1":
        return None
    raw = source.getlist("delivery")
    if len(raw) > MAX_CHOSEN:
        raise ResendError(too_many())
    try:
        ids = sorted({db_int(value) for value in raw})
    except ValueError:
        raise ResendError(
            gettext("That is not a delivery of this list. Choose again from the list.")
        ) from None
    if not ids:
        raise ResendError(none_chosen())
    return ids


@bp.route("/campaigns/<public_id>/uncertain/resend", methods=["GET", "POST"])
def campaign_uncertain_resend(public_id: str):
    """Confirm, then queue the chosen (or all) uncertain deliveries to be sent again; audited."""
    campaign = campaign_by_public_id(public_id)
    source = request.form if request.method == "POST" else request.args
    try:
        chosen = _chosen(source)
    except ResendError as exc:
        return _list_page(campaign, 400, shown(exc))
    if request.method == "GET":
        count = delivery_report.uncertain_count(campaign.id, chosen)
        return render_template(
            "admin/campaigns/uncertain_confirm.html",
            campaign=campaign,
            chosen=chosen,
            count=count,
            action_form=ActionForm(),
        )
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        count = resend_uncertain(campaign, chosen, actor=current_user, ip=request.remote_addr)
    except ResendError as exc:
        flash(shown(exc), "danger")
        return redirect(url_for("admin.campaign_uncertain", public_id=public_id))
    if count:
        queued = ngettext(
            "%(num)s uncertain delivery queued to be sent again.",
            "%(num)s uncertain deliveries queued to be sent again.",
            count,
        )
        flash(queued, "success")
    else:
        flash(gettext("Nothing was resent: none of those deliveries is uncertain any more."), "info")
    return redirect(url_for("admin.campaign_show", public_id=public_id))
