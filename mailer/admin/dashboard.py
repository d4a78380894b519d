"""The dashboard: what is happening at a glance."""
from datetime import timedelta

from flask import render_template
from sqlalchemy import func, select

from mailer.admin import bp
from mailer.clock import utcnow
from mailer.extensions import db
from mailer.services import campaign_alerts, relay_wait_alerts
from mailer.services.privacy import requests
from mailer.models import ConsentEvent, Contact, Form, MailingList, OutboxMessage, Subscription
from mailer.services.forms import form_by_slug


def _count(query) -> int:
    return db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()


@bp.get("/")
def dashboard():
    """Counts of contacts and subscriptions, recent sign-ups and confirmations."""
    week_ago = utcnow() - timedelta(days=7)
    stats = {
        "contacts": _count(select(Contact.id).where(Contact.status != "erased")),
        "confirmed": _count(select(Subscription.id).where(Subscription.status == "confirmed")),
        "pending": _count(select(Subscription.id).where(Subscription.status == "pending")),
        "lists": _count(select(MailingList.id)),
        "forms": _count(select(Form.id)),
        "signups_week": _count(select(ConsentEvent.id).where(ConsentEvent.action == "requested",
                                                              ConsentEvent.created_at >= week_ago)),
        "confirms_week": _count(select(ConsentEvent.id).where(ConsentEvent.action == "confirmed",
                                                               ConsentEvent.created_at >= week_ago)),
        "outbox": _count(select(OutboxMessage.id)),
    }
    recent = db.session.execute(
        select(ConsentEvent).where(ConsentEvent.action.in_(("requested", "confirmed", "withdrawn")))
        .order_by(ConsentEvent.id.desc()).limit(10)
    ).scalars().all()
    return render_template("admin/dashboard.html", stats=stats, recent=recent, demo=form_by_slug("demo"),
                           privacy=requests.register_counts(),
                           paused_campaigns=campaign_alerts.paused_campaigns_needing_attention(),
                           waiting_campaigns=relay_wait_alerts.waiting_campaigns())
