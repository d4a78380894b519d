"""Statistics pages: an overview, one page per campaign and
one per list (aggregates only, no personal data)."""

from flask import render_template, request
from sqlalchemy import select

from mailer.admin.blueprint import bp
from mailer.analytics import campaigns as analytics
from mailer.analytics import lists as list_analytics
from mailer.campaigns.models import Campaign
from mailer.core.extensions import db
from mailer.core.web import db_int
from mailer.subscriptions.lists import all_lists, list_counts
from mailer.subscriptions.models.lists import MailingList


@bp.get("/stats")
def analytics_overview():
    """Campaigns that have been sent, and every list, with links to their statistics."""
    return render_template(
        "admin/analytics/index.html",
        campaigns=analytics.campaigns_overview(),
        lists=all_lists(),
        counts=list_counts(),
    )


@bp.get("/campaigns/<public_id>/stats")
def analytics_campaign(public_id: str):
    """Delivery, unsubscribes, complaints, consent-aware
    opens and clicks, top links, opens/clicks over time."""
    campaign = db.one_or_404(select(Campaign).where(Campaign.public_id == public_id))
    unit = request.args.get("unit", "hour")
    stats = analytics.campaign_stats(campaign, unit if unit in analytics.SERIES_LENGTH else "hour")
    db.session.commit()  # a finished campaign's consent counts, kept at its first view
    return render_template("admin/analytics/campaign.html", stats=stats, campaign=campaign)


@bp.get("/lists/<public_id>/stats")
def analytics_list(public_id: str):
    """Growth over time (confirmed sign-ups, unsubscribes) and consent coverage per purpose."""
    mailing_list = db.one_or_404(select(MailingList).where(MailingList.public_id == public_id))
    days = request.args.get("days", 90, type=db_int) or 90
    stats = list_analytics.list_stats(mailing_list, min(max(days, 7), 730))
    return render_template("admin/analytics/list.html", stats=stats, mailing_list=mailing_list)
