"""A campaign's uncertain deliveries: listed page by page, and resent only by an owner's or admin's explicit decision."""
from flask import render_template, request

from mailer.admin import bp
from mailer.admin.campaign_forms import ActionForm
from mailer.admin.campaigns import campaign_by_public_id
from mailer.services import delivery_report
from mailer.web import db_int


@bp.get("/campaigns/<public_id>/uncertain")
def campaign_uncertain(public_id: str):
    """The uncertain deliveries of a campaign (keyset pages), what uncertain means, and the way to resend them."""
    campaign = campaign_by_public_id(public_id)
    after = max(0, request.args.get("after", 0, type=db_int) or 0)
    rows, next_after = delivery_report.uncertain_page(campaign.id, after)
    return render_template("admin/campaigns/uncertain.html", campaign=campaign, rows=rows, next_after=next_after,
                           after=after, total=delivery_report.uncertain_count(campaign.id),
                           action_form=ActionForm())
