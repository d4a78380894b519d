"""Operator alerts when the engine pauses a campaign by itself (5.7.x policy refusals, too many failures).

The engine calls `paused_automatically` once per pause (only the worker whose guarded UPDATE paused the
campaign gets there). It records the pause in the audit log, which the campaign page and the dashboard read to
explain what to check, and emails every active owner and admin through the transactional path (the relay, or
the local outbox in embedded mode). An alert that fails never disturbs sending: it is logged.
"""
import logging

from sqlalchemy import select

from mailer.extensions import db
from mailer.models import AuditEvent, Campaign, StaffUser
from mailer.urls import external_url

log = logging.getLogger(__name__)
ALERT_ACTION = "campaign.auto_pause"
NOTIFIED_ROLES = ("owner", "admin")

ADVICE = {
    "policy": {
        "title": "Receiving mail servers refuse this campaign for policy reasons (5.7.x)",
        "summary": "A 5.7.x answer means the receiving side distrusts our sending setup or reputation, not the "
                   "addresses: sending more now would only hurt the reputation further.",
        "checks": [
            "DKIM: the domain in the From address has an active key (flask dkim keygen) and its TXT record is "
            "published at <selector>._domainkey.<domain> exactly as printed.",
            "SPF: the domain's SPF record includes the relay (or this host) that sends the mail.",
            "DMARC: a _dmarc TXT record exists and the From domain aligns with the DKIM d= or SPF domain.",
            "Blocklists: look up the relay's IP address and the sending domain on the major blocklists "
            "(e.g. Spamhaus, Barracuda, SpamCop) and follow their delisting steps.",
            "The relay: ask the provider whether your account or IP is throttled or blocked.",
        ],
    },
    "errors": {
        "title": "Most recent messages of this campaign failed",
        "summary": "So many attempts failed that sending stopped rather than burn through the list.",
        "checks": [
            "The relay: is SMTP_URL right, is the relay up, does it accept our login and sender address?",
            "The last answer below: it names what the receiving side objected to.",
            "DKIM, SPF and DMARC of the sending domain (see Deliverability) if the answers are 5.7.x.",
        ],
    },
}


def paused_automatically(campaign_id: int, policy: bool) -> None:
    """Audit the automatic pause (policy refusals or too many failures) and email owners and admins once.

    Never raises into the sending engine."""
    try:
        _alert(campaign_id, "policy" if policy else "errors")
    except Exception:  # noqa: BLE001 - the pause itself has happened; an alert failure must not undo or retry it
        db.session.rollback()
        log.exception("Campaign %s paused automatically, but alerting the operators failed", campaign_id)


def _alert(campaign_id: int, kind: str) -> None:
    from mailer.services.privacy.audit import record
    from mailer.services.privacy.mail import send_email

    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        return
    name = " ".join((campaign.name or "").split())[:120]  # one line: it goes into the Subject header
    reason, public_id = campaign.status_reason or "", campaign.public_id
    staff = db.session.execute(select(StaffUser.email).where(StaffUser.active.is_(True),
                                                             StaffUser.role.in_(NOTIFIED_ROLES))
                               .order_by(StaffUser.id)).scalars().all()
    db.session.commit()  # end the read before the outbox writes (SQLite allows one writer)
    advice = ADVICE[kind]
    url = external_url("admin.campaign_show", public_id=public_id)
    for email in staff:
        send_email(email, None, f"Campaign “{name}” paused: {advice['title'][0].lower()}{advice['title'][1:]}",
                   category="internal", heading=f"“{name}” was paused automatically",
                   paragraphs=[reason, advice["summary"], "What to check before you resume:"],
                   items=advice["checks"], button_url=url, button_label="Open the campaign",
                   footnote="You receive this because you are an owner or admin. Nothing more is sent to this "
                            "campaign's recipients until someone resumes it.")
    record(ALERT_ACTION, "campaign", public_id, {"kind": kind, "notified": len(staff)})
    db.session.commit()


def pause_alert(campaign: Campaign) -> dict | None:
    """What to show about the current automatic pause of a campaign: kind, title, summary, checks; else None."""
    if campaign.status != "paused" or not (campaign.status_reason or "").startswith("Paused automatically"):
        return None
    return _alert_from(_latest_alert_events([campaign.public_id]).get(campaign.public_id))


def _latest_alert_events(public_ids: list[str]) -> dict[str, AuditEvent]:
    """The newest auto-pause audit event of each of these campaigns (one query)."""
    events = db.session.execute(select(AuditEvent).where(AuditEvent.action == ALERT_ACTION,
                                                         AuditEvent.target_type == "campaign",
                                                         AuditEvent.target_id.in_(public_ids))
                                .order_by(AuditEvent.id)).scalars()
    return {event.target_id: event for event in events}  # later (newer) events overwrite earlier ones


def _alert_from(event: AuditEvent | None) -> dict | None:
    if event is None:
        return None
    kind = (event.details or {}).get("kind", "errors")
    return {"kind": kind, "at": event.created_at, "notified": (event.details or {}).get("notified", 0),
            **ADVICE.get(kind, ADVICE["errors"])}


def paused_campaigns_needing_attention(limit: int = 10) -> list[tuple[Campaign, dict]]:
    """Campaigns paused by the engine, newest first, each with its alert (for the dashboard)."""
    paused = db.session.execute(select(Campaign).where(Campaign.status == "paused",
                                                       Campaign.status_reason.startswith("Paused automatically"))
                                .order_by(Campaign.id.desc()).limit(limit)).scalars().all()
    events = _latest_alert_events([campaign.public_id for campaign in paused]) if paused else {}
    return [(campaign, alert) for campaign in paused if (alert := _alert_from(events.get(campaign.public_id)))]
