"""Sending domains and their bounce and complaint rates per day (REQUIREMENTS B4); readiness (B1) is in
deliverability/readiness.py.

Rates: bounce and complaint reports received per sending domain and day over the messages sent that day.
A domain's sending campaigns pause when its rate over the last 24 hours goes above BOUNCE_RATE_PAUSE_THRESHOLD
or COMPLAINT_RATE_PAUSE_THRESHOLD percent (`RATE_LIMITS`, one rule for the pause and the page): at once on a
complaint, within a minute (the scheduled check) on bounces.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update

from mailer.campaigns import alerts as campaign_alerts
from mailer.campaigns.models import Campaign
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.sentences import N_, Sentence
from mailer.deliverability.models import BounceEvent, BounceKind
from mailer.delivery.models import Delivery, DkimKey
from mailer.organisation import settings as organisation_settings

log = logging.getLogger(__name__)
# The engine stores a Message-ID only when the relay accepted the message: it left us,
# whatever a later DSN says.
_LEFT_US = Delivery.message_id != ""


# --- domains ------------------------------------------------------------------------------------------------


def default_domain() -> str:
    """The domain of the organisation's sender (Settings, or MAILER_FROM)."""
    return organisation_settings.sender().domain.lower()


def domain_of(from_email: str | None) -> str:
    """A campaign's sending domain: its own From address's, else the
    organisation's sender's (the composer's rule)."""
    return from_email.rpartition("@")[2].lower() if from_email and "@" in from_email else default_domain()


def campaign_domains() -> dict[int, str]:
    """Campaign id → its sending (From) domain."""
    return {
        cid: domain_of(email) for cid, email in db.session.execute(select(Campaign.id, Campaign.from_email))
    }


def sending_domains() -> list[str]:
    """Every domain we send as: the organisation sender's,
    campaigns' own From domains, domains with a DKIM key."""
    keyed = db.session.execute(select(DkimKey.domain).where(DkimKey.active.is_(True))).scalars()
    others = set(campaign_domains().values()) | set(keyed)
    return [default_domain(), *sorted(others - {default_domain()})]


# --- complaint rate (B4) ------------------------------------------------------------------------------------


@dataclass
class DomainDay:
    """Messages sent and complaints received for one sending domain on one UTC day."""

    domain: str
    day: date
    sent: int = 0
    complaints: int = 0
    bounces: int = 0  # hard and soft bounce reports (policy refusals are about us, not the addresses)

    @property
    def rate(self) -> float | None:
        """Complaints per 100 messages sent, None when nothing was sent that day."""
        return 100.0 * self.complaints / self.sent if self.sent else None

    @property
    def bounce_rate(self) -> float | None:
        """Bounces per 100 messages sent, None when nothing was sent that day."""
        return 100.0 * self.bounces / self.sent if self.sent else None

    @property
    def above_threshold(self) -> bool:
        return self.complaints > 0 and (self.rate is None or self.rate > COMPLAINT_LIMIT.percent)

    @property
    def bounces_above_threshold(self) -> bool:
        return self.bounces > 0 and (self.bounce_rate is None or self.bounce_rate > BOUNCE_LIMIT.percent)


def _day(value) -> date:
    return (
        value
        if isinstance(value, date) and not isinstance(value, datetime)
        else date.fromisoformat(str(value)[:10])
    )


def complaint_rates(days: int = 14) -> list[DomainDay]:
    """Per sending domain and day (newest first): messages sent, complaints, rate."""
    since = datetime.combine(utcnow().date() - timedelta(days=days - 1), datetime.min.time())
    domains = campaign_domains()
    rows: dict[tuple[str, date], DomainDay] = {}
    sent_day = func.date(Delivery.finished_at)
    for campaign_id, day, count in db.session.execute(
        select(Delivery.campaign_id, sent_day, func.count())
        .where(_LEFT_US, Delivery.finished_at >= since)
        .group_by(Delivery.campaign_id, sent_day)
    ):
        key = (domains.get(campaign_id, default_domain()), _day(day))
        rows.setdefault(key, DomainDay(*key)).sent += count
    got_day = func.date(BounceEvent.created_at)
    counted = (BounceKind.COMPLAINT, BounceKind.HARD, BounceKind.SOFT)
    for domain, day, kind, count in db.session.execute(
        select(BounceEvent.sending_domain, got_day, BounceEvent.kind, func.count())
        .where(BounceEvent.kind.in_(counted), BounceEvent.created_at >= since)
        .group_by(BounceEvent.sending_domain, got_day, BounceEvent.kind)
    ):
        row = rows.setdefault((domain, _day(day)), DomainDay(domain, _day(day)))
        if kind == BounceKind.COMPLAINT:
            row.complaints += count
        else:
            row.bounces += count
    return sorted(rows.values(), key=lambda r: (r.day, r.domain), reverse=True)


def rate_history(days: int = 30) -> dict[str, list[DomainDay]]:
    """Per sending domain with mail or reports in the period: one row per UTC day, oldest first, days without
    anything included (nothing sent, no rate) so a chart's days line up."""
    today = utcnow().date()
    period = [today - timedelta(days=back) for back in range(days - 1, -1, -1)]
    by_key = {(row.domain, row.day): row for row in complaint_rates(days)}
    domains = sorted({domain for domain, _ in by_key})
    return {
        domain: [by_key.get((domain, day), DomainDay(domain, day)) for day in period] for domain in domains
    }


@dataclass(frozen=True)
class RateLimit:
    """A limit on one rate of a sending domain over the last 24 hours, above which its campaigns pause."""

    key: str  # "bounces" or "complaints"
    label: str  # what the page and the pause reason call the rate
    setting: str  # the environment variable that sets it (percent)

    @property
    def percent(self) -> float:
        return float(current_app.config[self.setting])


BOUNCE_LIMIT = RateLimit("bounces", "bounce rate", "BOUNCE_RATE_PAUSE_THRESHOLD")
COMPLAINT_LIMIT = RateLimit("complaints", "complaint rate", "COMPLAINT_RATE_PAUSE_THRESHOLD")
RATE_LIMITS = (BOUNCE_LIMIT, COMPLAINT_LIMIT)


@dataclass
class RecentRate:
    """A domain's messages, bounces and complaints over the last 24 hours, and the rates the pause rule uses:
    per 100 messages sent, taken over at least COMPLAINT_RATE_MIN_VOLUME messages (so one report about a
    tiny send does not stop everything)."""

    domain: str
    sent: int
    counts: dict[str, int]  # RateLimit.key → reports received

    @property
    def volume(self) -> int:
        return max(self.sent, int(current_app.config["COMPLAINT_RATE_MIN_VOLUME"]), 1)

    def rate(self, limit: RateLimit) -> float:
        return 100.0 * self.counts.get(limit.key, 0) / self.volume

    def exceeded(self) -> list[RateLimit]:
        """The limits this domain is above (the one rule: the pause and the page both ask this)."""
        return [limit for limit in RATE_LIMITS if self.rate(limit) > limit.percent]


def recent_rate(domain: str, hours: int = 24) -> RecentRate:
    """The bounce and complaint counts of one sending domain over the last `hours`."""
    since = utcnow() - timedelta(hours=hours)
    ids = [cid for cid, d in campaign_domains().items() if d == domain]
    sent = (
        db.session.execute(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.campaign_id.in_(ids), _LEFT_US, Delivery.finished_at >= since)
        ).scalar_one()
        if ids
        else 0
    )
    counts = {"bounces": 0, "complaints": 0}
    for kind, count in db.session.execute(
        select(BounceEvent.kind, func.count())
        .where(
            BounceEvent.sending_domain == domain,
            BounceEvent.kind.in_((BounceKind.COMPLAINT, BounceKind.HARD, BounceKind.SOFT)),
            BounceEvent.created_at >= since,
        )
        .group_by(BounceEvent.kind)
    ):
        counts["complaints" if kind == BounceKind.COMPLAINT else "bounces"] += count
    return RecentRate(domain, sent, counts)


# The pause reason, stored in English (the API's words) and shown in the staff member's language
# (core.sentences); a pause for both rates at once stays English in its joined parts.
RATE_PAUSE = Sentence(N_("Paused automatically: %(why)s. %(advice)s"))
WHY = {
    "complaints": Sentence(
        N_(
            "%(count)s spam complaint(s) about mail from %(domain)s in the last 24 hours against %(sent)s "
            "messages sent — a complaint rate of %(rate)s, above the %(limit)s limit (%(setting)s)"
        )
    ),
    "bounces": Sentence(
        N_(
            "%(count)s bounce report(s) about mail from %(domain)s in the last 24 hours against %(sent)s "
            "messages sent — a bounce rate of %(rate)s, above the %(limit)s limit (%(setting)s)"
        )
    ),
}
ADVICE = {
    "complaints": Sentence(
        N_(
            "Mailbox providers block senders above %(limit)s complaints: check who is on the list and "
            "whether they expect this mail, then resume."
        )
    ),
    "bounces": Sentence(
        N_(
            "Many bounces mean an old or bought list, or typos at sign-up: mailbox providers treat senders "
            "with high bounce rates as spammers. Bounced addresses are suppressed already; check where the "
            "list came from, then resume."
        )
    ),
}


def _why(rate: RecentRate, limit: RateLimit) -> str:
    return WHY[limit.key](
        count=rate.counts[limit.key],
        domain=rate.domain,
        sent=rate.sent,
        rate=f"{rate.rate(limit):.2f} %",
        limit=f"{limit.percent:g} %",
        setting=limit.setting,
    )


def _advice(limit: RateLimit) -> str:
    return ADVICE[limit.key](limit="0.3 %") if limit.key == "complaints" else ADVICE[limit.key]()


def enforce_rate_limits(domain: str) -> list[int]:
    """Pause the domain's sending campaigns when its recent bounce or complaint rate is above its limit; the
    caller commits. Returns the campaigns paused."""
    ids = [cid for cid, d in campaign_domains().items() if d == domain]
    sending = (
        db.session.execute(select(Campaign.id).where(Campaign.id.in_(ids), Campaign.status == "sending"))
        .scalars()
        .all()
    )
    if not sending:
        return []
    rate = recent_rate(domain)
    exceeded = rate.exceeded()
    if not exceeded:
        return []
    reason = RATE_PAUSE(
        why="; ".join(_why(rate, limit) for limit in exceeded),
        advice=" ".join(_advice(limit) for limit in exceeded),
    )
    paused = sorted(
        db.session.execute(
            update(Campaign)
            .where(Campaign.id.in_(sending), Campaign.status == "sending")
            .values(status="paused", status_reason=reason)
            .returning(Campaign.id)
            .execution_options(synchronize_session=False)
        ).scalars()
    )
    details = {
        "kind": "rate",
        "domain": domain,
        "limits": [limit.key for limit in exceeded],
        "rates": {limit.key: round(rate.rate(limit), 2) for limit in exceeded},
        "thresholds": {limit.key: limit.percent for limit in exceeded},
    }
    # One alert per pause (only the campaigns this statement paused): owners and admins get its email
    # once the caller commits, and the campaign page, dashboard and Deliverability page show it.
    for campaign in db.session.execute(select(Campaign).where(Campaign.id.in_(paused))).scalars():
        campaign_alerts.record_alert(campaign, campaign_alerts.ALERT_ACTION, details)
    if paused:
        log.error("Paused campaigns %s: %s", paused, reason)
    return paused


def enforce_all_rate_limits() -> list[int]:
    """The scheduled check: every domain with a sending campaign (bounces are not checked one by one as they
    arrive, as complaints are: they come in bulk, and this runs every minute)."""
    domains = campaign_domains()
    sending = db.session.execute(select(Campaign.id).where(Campaign.status == "sending")).scalars().all()
    paused: list[int] = []
    for domain in sorted({domains[cid] for cid in sending if cid in domains}):
        paused += enforce_rate_limits(domain)
    return paused
