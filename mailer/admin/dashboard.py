"""The dashboard: what is happening at a glance."""

from datetime import timedelta

from flask import render_template
from flask_babel import gettext
from sqlalchemy import func, select

from mailer.admin.blueprint import bp
from mailer.analytics.latest import latest_results
from mailer.campaigns import alerts as campaign_alerts
from mailer.campaigns import relay_wait as relay_wait_alerts
from mailer.campaigns.models import Campaign, CampaignStatus
from mailer.consent.models import ConsentEvent
from mailer.contacts.models.contact import ContactStatus
from mailer.core import counters
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery.dkim_keys import DkimKey
from mailer.delivery.models import OutboxMessage
from mailer.organisation import settings as organisation_settings
from mailer.privacy import requests
from mailer.subscriptions.forms import form_by_slug
from mailer.subscriptions.models.forms import Form
from mailer.subscriptions.models.lists import MailingList


def _count(query) -> int:
    return db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()


def _exists(query) -> bool:
    return db.session.execute(query.limit(1)).first() is not None


def first_run_checklist() -> list[dict]:
    """What a fresh install needs before its first campaign: each step, whether it is done, where to do it."""
    given = organisation_settings.is_filled_in()
    try:
        domain = organisation_settings.sender().domain.lower()
    except ValueError:
        domain = ""
    return [
        {
            "done": given["name"] and given["postal_address"],
            "label": gettext("Name your organisation and give its postal address"),
            "endpoint": "admin.organisation_settings_page",
        },
        {
            "done": given["sender"],
            "label": gettext("Choose the sender name and address"),
            "endpoint": "admin.organisation_settings_page",
        },
        {
            "done": _exists(select(MailingList.id)),
            "label": gettext("Create a list"),
            "endpoint": "admin.list_new",
        },
        {
            "done": _exists(select(Form.id)),
            "label": gettext("Make a sign-up form"),
            "endpoint": "admin.forms",
        },
        {
            "done": _exists(select(Campaign.id).where(Campaign.status != CampaignStatus.DRAFT)),
            "label": gettext("Send (or schedule) a campaign"),
            "endpoint": "admin.campaigns",
        },
        {
            "done": bool(domain)
            and _exists(select(DkimKey.id).where(DkimKey.domain == domain, DkimKey.active.is_(True))),
            "label": gettext("Set up DKIM and DNS for %(domain)s", domain=domain)
            if domain
            else gettext("Set up DKIM and DNS for your sending domain"),
            "endpoint": "admin.deliverability_index",
        },
    ]


@bp.get("/")
def dashboard():
    """Counts of contacts and subscriptions, the latest campaigns' results, recent sign-ups and confirms."""
    week_ago = utcnow() - timedelta(days=7)
    contacts, subscriptions = counters.totals("contact_counts"), counters.totals("subscription_counts")
    week = counters.consent_events_since(("requested", "confirmed"), week_ago)
    stats = {
        "contacts": sum(n for (status,), n in contacts.items() if status != ContactStatus.ERASED),
        "confirmed": sum(n for (_, status), n in subscriptions.items() if status == "confirmed"),
        "pending": sum(n for (_, status), n in subscriptions.items() if status == "pending"),
        "lists": _count(select(MailingList.id)),
        "forms": _count(select(Form.id)),
        "signups_week": week["requested"],
        "confirms_week": week["confirmed"],
        "outbox": _count(select(OutboxMessage.id)),
    }
    recent = (
        db.session.execute(
            select(ConsentEvent)
            .where(ConsentEvent.action.in_(("requested", "confirmed", "withdrawn")))
            .order_by(ConsentEvent.id.desc())
            .limit(10)
        )
        .scalars()
        .all()
    )
    checklist = first_run_checklist()
    return render_template(
        "admin/dashboard.html",
        checklist=checklist if not all(item["done"] for item in checklist) else None,
        stats=stats,
        recent=recent,
        latest=latest_results(),
        demo=form_by_slug("demo"),
        privacy=requests.register_counts(),
        paused_campaigns=campaign_alerts.paused_campaigns_needing_attention(),
        waiting_campaigns=relay_wait_alerts.waiting_campaigns(),
    )
