"""Deliverability: DNS readiness of the sending domains (B1),
bounces and complaints, complaint rate per day (B4)."""

from datetime import timedelta

from flask import flash, redirect, render_template, url_for
from sqlalchemy import func, select

from mailer.admin.blueprint import bp
from mailer.campaigns.models import Campaign
from mailer.contacts.models.contact import Contact
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.urls import external_url
from mailer.deliverability import domains as deliverability
from mailer.deliverability import readiness as domain_readiness
from mailer.deliverability import webhooks
from mailer.deliverability.models import BounceEvent

RECENT = 50
HISTORY_DAYS = 30
ALERT_DAYS = 7


def _recent_events():
    """The newest bounce/complaint log rows with their contact and campaign."""
    query = (
        select(BounceEvent, Contact, Campaign)
        .outerjoin(Contact, Contact.id == BounceEvent.contact_id)
        .outerjoin(Campaign, Campaign.id == BounceEvent.campaign_id)
        .order_by(BounceEvent.id.desc())
        .limit(RECENT)
    )
    return db.session.execute(query).all()


def _policy_alert():
    """(count, newest event) of policy refusals in the last days: our setup is being refused."""
    since = utcnow() - timedelta(days=ALERT_DAYS)
    where = (BounceEvent.kind == "policy", BounceEvent.created_at >= since)
    count = db.session.execute(select(func.count()).select_from(BounceEvent).where(*where)).scalar_one()
    newest = db.session.execute(
        select(BounceEvent).where(*where).order_by(BounceEvent.id.desc()).limit(1)
    ).scalar()
    return count, newest


def _provider_webhooks() -> dict:
    """The provider webhook section (its own include): state, endpoint URL and last event per provider."""
    setups = webhooks.provider_setups()
    return {
        "provider_setups": setups,
        "provider_urls": {s.name: external_url("public.provider_webhook", provider=s.name) for s in setups},
        "provider_settings": webhooks.SETTINGS,
    }


@bp.get("/deliverability")
def deliverability_index():
    """Readiness checklist with the DNS records to publish,
    recent reports, complaint rate per domain per day."""
    paused = (
        db.session.execute(
            select(Campaign)
            .where(Campaign.status == "paused", Campaign.status_reason.contains("complaint"))
            .order_by(Campaign.id.desc())
        )
        .scalars()
        .all()
    )
    policy_count, policy_newest = _policy_alert()
    return render_template(
        "admin/deliverability/index.html",
        readiness=domain_readiness.readiness(),
        events=_recent_events(),
        rates=deliverability.complaint_rates(),
        history=deliverability.rate_history(HISTORY_DAYS),
        history_days=HISTORY_DAYS,
        threshold=deliverability.threshold(),
        paused=paused,
        policy_count=policy_count,
        policy_newest=policy_newest,
        alert_days=ALERT_DAYS,
        **_provider_webhooks(),
    )


@bp.post("/deliverability/check")
def deliverability_check():
    """Ask DNS again now instead of showing the answer from the last few minutes."""
    report = domain_readiness.readiness(refresh=True)
    flash(
        "DNS checked again." if not report.dns_error else f"DNS could not be asked: {report.dns_error}.",
        "info" if not report.dns_error else "warning",
    )
    return redirect(url_for("admin.deliverability_index"))
