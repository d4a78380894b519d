"""Deliverability: DNS readiness of the sending domains (B1),
bounces and complaints, complaint rate per day (B4)."""

from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from sqlalchemy import func, or_, select

from mailer.admin.blueprint import bp
from mailer.campaigns import alerts as campaign_alerts
from mailer.campaigns.models import Campaign
from mailer.contacts.models.contact import Contact
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.sentences import shown
from mailer.core.urls import external_url
from mailer.deliverability import dkim_rotation, webhooks
from mailer.deliverability import domains as deliverability
from mailer.deliverability import readiness as domain_readiness
from mailer.deliverability.models import BounceEvent

RECENT = 50
HISTORY_DAYS = 30
ALERT_DAYS = 7

# How the page names a limit's rate, in a sentence and heading a row (RateLimit.label stays English: it is
# also written into a paused campaign's stored reason).
RATE_NAMES = {"bounces": lazy_gettext("bounce rate"), "complaints": lazy_gettext("complaint rate")}
RATE_HEADINGS = {"bounces": lazy_gettext("Bounce rate"), "complaints": lazy_gettext("Complaint rate")}
# A report's kind and what was done about it, as the page names them (BounceEvent stores the English codes).
BOUNCE_KIND_NAMES = {
    "hard": lazy_gettext("hard"),
    "soft": lazy_gettext("soft"),
    "policy": lazy_gettext("policy"),
    "complaint": lazy_gettext("complaint"),
}
BOUNCE_ACTION_NAMES = {
    "none": lazy_gettext("none"),
    "counted": lazy_gettext("counted"),
    "suppressed": lazy_gettext("suppressed"),
    "suppressed_after_soft": lazy_gettext("suppressed after soft bounces"),
    "operator_alert": lazy_gettext("operator alert"),
}


# The readiness checks that have a name in words (SPF, DKIM and DMARC read the same everywhere).
CHECK_NAMES = {
    "From alignment": lazy_gettext("From alignment"),
    "Bounce mailbox": lazy_gettext("Bounce mailbox"),
}


def check_name(name: str) -> str:
    """A readiness check's name in the page's language."""
    return str(CHECK_NAMES.get(name, name))


def rate_name(limit: deliverability.RateLimit) -> str:
    """A limit's rate as a sentence names it ("bounce rate")."""
    return str(RATE_NAMES.get(limit.key, limit.label))


def rate_heading(limit: deliverability.RateLimit) -> str:
    """A limit's rate as a row heading ("Bounce rate")."""
    return str(RATE_HEADINGS.get(limit.key, limit.label))


def bounce_kind_name(kind: str) -> str:
    """A report's kind in the page's language; an unknown code as it is."""
    return str(BOUNCE_KIND_NAMES.get(kind, kind))


def bounce_action_name(action: str) -> str:
    """What was done about a report, in the page's language; an unknown code with spaces for underscores."""
    return str(BOUNCE_ACTION_NAMES.get(action, action.replace("_", " ")))


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
            .where(
                Campaign.status == "paused",
                or_(
                    *(Campaign.status_reason.contains(limit.setting) for limit in deliverability.RATE_LIMITS)
                ),
            )
            .order_by(Campaign.id.desc())
        )
        .scalars()
        .all()
    )
    policy_count, policy_newest = _policy_alert()
    history = deliverability.rate_history(HISTORY_DAYS)
    return render_template(
        "admin/deliverability/index.html",
        readiness=domain_readiness.readiness(),
        events=_recent_events(),
        rates=deliverability.complaint_rates(),
        history=history,
        recent={domain: deliverability.recent_rate(domain) for domain in history},
        limits=deliverability.RATE_LIMITS,
        history_days=HISTORY_DAYS,
        dkim_keys=dkim_rotation.all_domain_keys(deliverability.sending_domains()),
        now_month=f"{utcnow():%Y%m}",
        threshold=deliverability.COMPLAINT_LIMIT.percent,
        bounce_threshold=deliverability.BOUNCE_LIMIT.percent,
        paused=paused,
        pause_alerts={c.public_id: a for c in paused if (a := campaign_alerts.pause_alert(c)) is not None},
        policy_count=policy_count,
        policy_newest=policy_newest,
        alert_days=ALERT_DAYS,
        rate_name=rate_name,
        check_name=check_name,
        rate_heading=rate_heading,
        bounce_kind_name=bounce_kind_name,
        bounce_action_name=bounce_action_name,
        **_provider_webhooks(),
    )


@bp.post("/deliverability/check")
def deliverability_check():
    """Ask DNS again now instead of showing the answer from the last few minutes."""
    report = domain_readiness.readiness(refresh=True)
    flash(
        gettext("DNS checked again.")
        if not report.dns_error
        else gettext("DNS could not be asked: %(error)s.", error=report.dns_error),
        "info" if not report.dns_error else "warning",
    )
    return redirect(url_for("admin.deliverability_index"))


def _back_to_keys():
    return redirect(url_for("admin.deliverability_index", _anchor="dkim-heading"))


@bp.post("/deliverability/dkim/new")
def dkim_key_new():
    """Create a key under a new selector beside the signing one (it signs only once switched to)."""
    domain = (request.form.get("domain") or "").strip().lower()
    if domain not in deliverability.sending_domains():
        abort(400, gettext("Choose one of the sending domains listed on the page."))
    try:
        key = dkim_rotation.start_rotation(
            domain, request.form.get("selector") or "", actor=current_user, ip=request.remote_addr
        )
    except dkim_rotation.RotationError as exc:
        db.session.rollback()
        abort(400, gettext("No key created: %(reason)s", reason=exc))
    db.session.commit()
    flash(
        gettext(
            "Key %(selector)s created for %(domain)s: publish its TXT record, then check DNS.",
            selector=key.selector,
            domain=key.domain,
        ),
        "success",
    )
    return _back_to_keys()


@bp.post("/deliverability/dkim/<int:key_id>/check")
def dkim_key_check(key_id: int):
    """Ask DNS now whether a key's record is published."""
    key = dkim_rotation.get_key(key_id)
    if key is None:
        abort(404)
    published, detail = dkim_rotation.check_published(key)
    flash(detail, "success" if published else "warning")
    return _back_to_keys()


@bp.post("/deliverability/dkim/<int:key_id>/switch")
def dkim_key_switch(key_id: int):
    """Sign with this key from now on (refused unless DNS shows it published); the old key is retired."""
    try:
        key = dkim_rotation.switch_to(key_id, actor=current_user, ip=request.remote_addr)
    except LookupError:
        abort(404)
    except dkim_rotation.RotationError as exc:
        db.session.rollback()
        flash(shown(exc), "danger")
        return _back_to_keys()
    db.session.commit()
    flash(
        gettext(
            "Mail from @%(domain)s is now signed with selector %(selector)s; the old key is retired.",
            domain=key.domain,
            selector=key.selector,
        ),
        "success",
    )
    return _back_to_keys()
