"""Statistics pages: an overview, one page per campaign and
one per list (aggregates only, no personal data)."""

from datetime import datetime

from babel.dates import format_skeleton
from flask import render_template, request
from flask_babel import lazy_gettext
from sqlalchemy import select

from mailer.admin.blueprint import bp
from mailer.analytics import campaigns as analytics
from mailer.analytics import lists as list_analytics
from mailer.campaigns.models import Campaign
from mailer.core import i18n
from mailer.core.extensions import db
from mailer.core.web import db_int
from mailer.subscriptions.lists import all_lists, list_counts
from mailer.subscriptions.models.lists import MailingList

# What the charts and their tables call each series (the analytics keep English labels and these keys).
SERIES_NAMES = {
    "opens": lazy_gettext("Opens"),
    "clicks": lazy_gettext("Clicks"),
    "machine_opens": lazy_gettext("Machine-like opens"),
    "machine_clicks": lazy_gettext("Machine-like clicks"),
    "joined": lazy_gettext("Confirmed sign-ups"),
    "left": lazy_gettext("Unsubscribes"),
    "subscribers": lazy_gettext("Subscribers"),
}
# A delivery's status where the campaign's stats list the ones that are neither sent nor bounced.
DELIVERY_STATE_NAMES = {
    "queued": lazy_gettext("queued"),
    "sending": lazy_gettext("sending"),
    "skipped": lazy_gettext("skipped"),
    "failed": lazy_gettext("failed"),
    "uncertain": lazy_gettext("uncertain"),
}


def delivery_state_name(status: str) -> str:
    """A delivery status in the page's language; an unknown code as it is."""
    return str(DELIVERY_STATE_NAMES.get(status, status))


def _slot_label(moment: datetime, hourly: bool) -> str:
    """A chart's UTC day or hour as the page's language writes it (English: '06 Dec', '06 Dec 14:00')."""
    if i18n.current_language() == i18n.DEFAULT_LANGUAGE:
        day = moment.strftime("%d %b")
    else:
        day = format_skeleton("MMMd", moment, locale=i18n.current_language())
    return f"{day} {moment:%H}:00" if hourly else day


def _spoken(series: dict, moments: list[str], hourly: bool = False) -> dict:
    """A chart's series named and dated in the page's language, for the page and static/analytics.js."""
    return {
        **series,
        "labels": [_slot_label(datetime.fromisoformat(m), hourly) for m in moments],
        "datasets": [
            {**ds, "label": str(SERIES_NAMES.get(ds.get("key", ""), ds["label"]))}
            for ds in series["datasets"]
        ],
    }


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
    series = _spoken(stats.series, stats.series.get("slots", []), hourly=stats.series["unit"] == "hour")
    return render_template(
        "admin/analytics/campaign.html",
        stats=stats,
        series=series,
        campaign=campaign,
        delivery_state_name=delivery_state_name,
    )


@bp.get("/lists/<public_id>/stats")
def analytics_list(public_id: str):
    """Growth over time (confirmed sign-ups, unsubscribes) and consent coverage per purpose."""
    mailing_list = db.one_or_404(select(MailingList).where(MailingList.public_id == public_id))
    days = request.args.get("days", 90, type=db_int) or 90
    stats = list_analytics.list_stats(mailing_list, min(max(days, 7), 730))
    return render_template(
        "admin/analytics/list.html",
        stats=stats,
        growth=_spoken(stats.growth, stats.growth["dates"]),
        mailing_list=mailing_list,
    )
