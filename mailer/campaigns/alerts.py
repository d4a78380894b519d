"""Operator alerts about campaigns: the engine paused one by itself, or it has waited for the relay too long.

An alert is recorded first, as an audit row committed in the step that noticed the trouble: the campaign page
and the dashboard read it from the database at once, whether or not any mail can leave. Every active owner and
admin is then emailed by the `send_campaign_alert` actor, one message per person, which dramatiq retries
with backoff while the relay is down. A second audit row marks each email the relay accepted, so a retry never
sends the same alert to the same person twice.
"""

import logging
import smtplib

from sqlalchemy import func, select

from mailer.audit import record
from mailer.audit.models import AuditEvent
from mailer.campaigns.models import Campaign, CampaignStatus
from mailer.core.broker import enqueue_after_commit
from mailer.core.extensions import db
from mailer.core.urls import external_url
from mailer.delivery.notices import send_notice
from mailer.delivery.outgoing import MessageKind
from mailer.staff.models.accounts import StaffUser

log = logging.getLogger(__name__)
ALERT_ACTION = "campaign.auto_pause"
WAIT_ALERT_ACTION = "campaign.relay_wait_alert"
EMAILED_ACTION = "campaign.alert_emailed"
NOTIFIED_ROLES = ("owner", "admin")
MARK_ATTEMPTS = (
    5  # tries to record that an email went out; re-sending instead would be the duplicate we avoid
)

ADVICE = {
    "policy": {
        "title": "Receiving mail servers refuse this campaign for policy reasons (5.7.x)",
        "summary": "A 5.7.x answer means the receiving side distrusts our sending setup or reputation, "
        "not the addresses: sending more now would only hurt the reputation further.",
        "checks": [
            "DKIM: the domain in the From address has an active key (flask dkim keygen) and its TXT record "
            "is published at <selector>._domainkey.<domain> exactly as printed.",
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
    "rate": {
        "title": "The bounce or complaint rate of its sending domain is above the limit",
        "summary": "Mailbox providers judge a sending domain by how much of its mail bounces or is reported "
        "as spam: every campaign sending from this domain stopped before the rate hurts its reputation "
        "further.",
        "checks": [
            "Where the list came from: old, bought or scraped addresses bounce and complain; bounced and "
            "complaining addresses are suppressed already.",
            "Sign-up: double opt-in and a clear promise of what people will receive keep both rates low.",
            "Deliverability shows the domain's rates over time against the limits.",
            "When the cause is dealt with, resume the campaign on its page (the button below); the rate is "
            "checked again every minute while it sends.",
        ],
    },
    "relay": {
        "title": "The campaign has been waiting for the relay for several minutes",
        "summary": "The relay refuses connections, does not answer or asks us to try later. Nothing is lost: "
        "the campaign goes on by itself as soon as the relay takes mail again.",
        "checks": [
            "The relay: is it running and reachable from the workers at the host and port in SMTP_URL?",
            "Credentials and limits: does the provider still accept our login, "
            "or has a sending quota run out?",
            "The reason on the campaign page: it quotes the relay's last answer or the connection error.",
        ],
    },
}


class AlertNotSentError(Exception):
    """The relay did not take an alert email (dramatiq retries the message); says why without any address."""


def paused_automatically(campaign_id: int, policy: bool) -> None:
    """Record the automatic pause (policy refusals or too many failures); queue one email per owner and admin.

    Never raises into the sending engine."""
    try:
        campaign = db.session.get(Campaign, campaign_id)
        if campaign is not None:
            raise_alert(campaign, ALERT_ACTION, {"kind": "policy" if policy else "errors"})
    except Exception:
        db.session.rollback()
        log.exception("Campaign %s paused automatically, but recording the alert failed", campaign_id)


def raise_alert(campaign: Campaign, action: str, details: dict) -> AuditEvent:
    """Commit the alert (shown at once) and queue its email to every active owner and admin."""
    event = record_alert(campaign, action, details)
    db.session.commit()
    return event


def record_alert(campaign: Campaign, action: str, details: dict) -> AuditEvent:
    """raise_alert in the caller's transaction: the alert and its emails (sent once the caller commits,
    dropped with it on a rollback)."""
    staff_ids = (
        db.session.execute(
            select(StaffUser.id)
            .where(StaffUser.active.is_(True), StaffUser.role.in_(NOTIFIED_ROLES))
            .order_by(StaffUser.id)
        )
        .scalars()
        .all()
    )
    event = record(action, "campaign", campaign.public_id, {**details, "notified": len(staff_ids)})
    db.session.flush()
    for staff_id in staff_ids:
        enqueue_after_commit(db.session, "send_campaign_alert", event.id, staff_id)
    return event


def email_alert(event_id: int, staff_id: int) -> bool:
    """Email one recorded alert to one owner or admin, unless it already went; True when it was sent now.

    Raises AlertNotSentError when the relay does not take it, so the actor is retried with backoff."""
    event, staff = db.session.get(AuditEvent, event_id), db.session.get(StaffUser, staff_id)
    campaign = db.session.execute(
        select(Campaign).where(Campaign.public_id == (event.target_id if event else ""))
    ).scalar_one_or_none()
    if (
        campaign is None
        or staff is None
        or not staff.active
        or staff.role not in NOTIFIED_ROLES
        or _already_emailed(event_id, staff_id)
    ):
        db.session.rollback()
        return False
    kind = ((event.details if event else None) or {}).get("kind", "errors")
    advice, name = ADVICE.get(kind, ADVICE["errors"]), " ".join((campaign.name or "").split())[:120]
    reason = campaign.status_reason or ""
    if kind == "relay":  # the wait may be over by the time the relay takes this email
        reason = (
            campaign.waiting_reason
            or "The wait is over: the relay takes mail again and the campaign went on."
        )
    to_addr, public_id = staff.email, campaign.public_id
    db.session.commit()  # end the read before the outbox writes (SQLite allows one writer)
    heading, subject = _wording(kind, name, advice)
    try:
        send_notice(
            MessageKind.CAMPAIGN_ALERT,
            to_addr,
            None,
            subject,
            heading=heading,
            paragraphs=[
                reason,
                advice["summary"],
                "What to check:" if kind == "relay" else "What to check before you resume:",
            ],
            items=advice["checks"],
            button_url=external_url("admin.campaign_show", public_id=public_id),
            button_label="Open the campaign",
            footnote=_FOOTNOTES[kind == "relay"],
        )
    except (smtplib.SMTPException, OSError) as exc:
        db.session.rollback()
        raise AlertNotSentError(f"the relay did not take alert {event_id}: {_describe(exc)}") from None
    _mark_emailed(event_id, staff_id, public_id)
    return True


_FOOTNOTES = {
    False: "You receive this because you are an owner or admin. Nothing more is sent to this campaign's "
    "recipients until someone resumes it.",
    True: "You receive this because you are an owner or admin. You get this email once per wait; the "
    "campaign page shows the current state.",
}


def _wording(kind: str, name: str, advice: dict) -> tuple[str, str]:
    """(heading, subject) of an alert email; the subject is one line (the name is already collapsed)."""
    if kind == "relay":
        return f"“{name}” is waiting for the relay", f"Campaign “{name}” is waiting for the relay"
    title = advice["title"]
    return f"“{name}” was paused automatically", f"Campaign “{name}” paused: {title[0].lower()}{title[1:]}"


def _describe(exc: Exception) -> str:
    """A failure in words that hold no address (smtplib's recipient errors quote the address)."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"SMTP {exc.smtp_code}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "recipient refused " + ", ".join(str(code) for code, _ in exc.recipients.values())
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__


def _emailed_rows(event_ids: list[int]):
    return select(AuditEvent).where(
        AuditEvent.action == EMAILED_ACTION,
        AuditEvent.target_type == "alert",
        AuditEvent.target_id.in_([str(event_id) for event_id in event_ids]),
    )


def _already_emailed(event_id: int, staff_id: int) -> bool:
    return any(
        (row.details or {}).get("staff") == staff_id
        for row in db.session.execute(_emailed_rows([event_id])).scalars()
    )


def _mark_emailed(event_id: int, staff_id: int, campaign_public_id: str) -> None:
    """Record the sent email; on a database blip try again rather than let a retry send it twice."""
    for attempt in range(1, MARK_ATTEMPTS + 1):
        try:
            record(
                EMAILED_ACTION, "alert", str(event_id), {"staff": staff_id, "campaign": campaign_public_id}
            )
            db.session.commit()
            return
        except Exception:
            db.session.rollback()
            log.warning("Alert %s was emailed, but recording it failed (attempt %s)", event_id, attempt)
    log.error("Alert %s was emailed to staff %s, but it could not be recorded", event_id, staff_id)


def emailed_counts(event_ids: list[int]) -> dict[int, int]:
    """How many owners and admins each alert has reached by email so far (one query)."""
    if not event_ids:
        return {}
    rows = db.session.execute(
        select(AuditEvent.target_id, func.count())
        .where(
            AuditEvent.action == EMAILED_ACTION,
            AuditEvent.target_type == "alert",
            AuditEvent.target_id.in_([str(event_id) for event_id in event_ids]),
        )
        .group_by(AuditEvent.target_id)
    )
    return {int(target): count for target, count in rows}


def pause_alert(campaign: Campaign) -> dict | None:
    """What to show of the current automatic pause of a campaign: kind, title, summary, checks; else None."""
    if campaign.status != CampaignStatus.PAUSED or not (campaign.status_reason or "").startswith(
        "Paused automatically"
    ):
        return None
    return alerts_from(_latest_alert_events([campaign.public_id])).get(campaign.public_id)


def _latest_alert_events(public_ids: list[str], action: str = ALERT_ACTION) -> dict[str, AuditEvent]:
    """The newest alert event of this kind for each of these campaigns (one query)."""
    events = db.session.execute(
        select(AuditEvent)
        .where(
            AuditEvent.action == action,
            AuditEvent.target_type == "campaign",
            AuditEvent.target_id.in_(public_ids),
        )
        .order_by(AuditEvent.id)
    ).scalars()
    return {event.target_id: event for event in events}  # later (newer) events overwrite earlier ones


def alerts_from(events: dict[str, AuditEvent]) -> dict[str, dict]:
    """Display data for alert events, keyed by campaign public id, with how many emails went out so far."""
    emailed = emailed_counts([event.id for event in events.values()])
    alerts = {}
    for public_id, event in events.items():
        details = event.details or {}
        kind = details.get("kind", "errors")
        alerts[public_id] = {
            "kind": kind,
            "at": event.created_at,
            "notified": details.get("notified", 0),
            "emailed": emailed.get(event.id, 0),
            **ADVICE.get(kind, ADVICE["errors"]),
        }
    return alerts


def paused_campaigns_needing_attention(limit: int = 10) -> list[tuple[Campaign, dict]]:
    """Campaigns paused by the engine, newest first, each with its alert (for the dashboard)."""
    paused = (
        db.session.execute(
            select(Campaign)
            .where(
                Campaign.status == CampaignStatus.PAUSED,
                Campaign.status_reason.startswith("Paused automatically"),
            )
            .order_by(Campaign.id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )
    alerts = alerts_from(_latest_alert_events([campaign.public_id for campaign in paused])) if paused else {}
    return [(campaign, alerts[campaign.public_id]) for campaign in paused if campaign.public_id in alerts]
