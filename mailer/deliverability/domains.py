"""Sending-domain readiness (REQUIREMENTS B1) and the complaint rate per domain per day (B4).

Readiness: SPF on the envelope (VERP) domain, the DKIM key from our key storage published at
<selector>._domainkey, a DMARC record, and From alignment (DKIM d= and the envelope domain against the From
domain). When DNS cannot be reached, every DNS check is "unknown" and the exact records to publish are shown.

Complaint rate: complaints received per sending domain and day over the messages sent that day. A campaign
is paused when its domain's rate over the last 24 hours goes above COMPLAINT_RATE_PAUSE_THRESHOLD percent.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update

from mailer.campaigns.models import Campaign
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.deliverability.dnscheck import DnsUnavailableError, Record, Resolver, organisational_domain
from mailer.deliverability.models import BounceEvent, BounceKind
from mailer.delivery.dkim import DkimSigner
from mailer.delivery.models import Delivery, DkimKey
from mailer.delivery.outgoing import parse_sender
from mailer.delivery.replies import bounce_base
from mailer.delivery.transport import SmtpSettings

log = logging.getLogger(__name__)
CACHE_SECONDS = 300
# The engine stores a Message-ID only when the relay accepted the message: it left us,
# whatever a later DSN says.
_LEFT_US = Delivery.message_id != ""


# --- domains ------------------------------------------------------------------------------------------------


def default_domain() -> str:
    """The domain of MAILER_FROM."""
    return parse_sender(current_app.config["MAILER_FROM"]).domain.lower()


def domain_of(from_email: str | None) -> str:
    """A campaign's sending domain: its own From address's, else MAILER_FROM's (the composer's rule)."""
    return from_email.rpartition("@")[2].lower() if from_email and "@" in from_email else default_domain()


def campaign_domains() -> dict[int, str]:
    """Campaign id → its sending (From) domain."""
    return {
        cid: domain_of(email) for cid, email in db.session.execute(select(Campaign.id, Campaign.from_email))
    }


def sending_domains() -> list[str]:
    """Every domain we send as: MAILER_FROM's, campaigns' own From domains, domains with a DKIM key."""
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

    @property
    def rate(self) -> float | None:
        """Complaints per 100 messages sent, None when nothing was sent that day."""
        return 100.0 * self.complaints / self.sent if self.sent else None

    @property
    def above_threshold(self) -> bool:
        return self.complaints > 0 and (self.rate is None or self.rate > threshold())


def threshold() -> float:
    return float(current_app.config["COMPLAINT_RATE_PAUSE_THRESHOLD"])


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
    for domain, day, count in db.session.execute(
        select(BounceEvent.sending_domain, got_day, func.count())
        .where(BounceEvent.kind == BounceKind.COMPLAINT, BounceEvent.created_at >= since)
        .group_by(BounceEvent.sending_domain, got_day)
    ):
        key = (domain, _day(day))
        rows.setdefault(key, DomainDay(*key)).complaints += count
    return sorted(rows.values(), key=lambda r: (r.day, r.domain), reverse=True)


@dataclass
class RecentRate:
    """A domain's complaints and messages over the last 24 hours; `effective` is what the pause rule uses."""

    domain: str
    complaints: int
    sent: int
    effective: float  # percent, over max(sent, COMPLAINT_RATE_MIN_VOLUME)


def recent_rate(domain: str, hours: int = 24) -> RecentRate:
    """The complaint rate of one sending domain over the last `hours`."""
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
    complaints = db.session.execute(
        select(func.count())
        .select_from(BounceEvent)
        .where(
            BounceEvent.sending_domain == domain,
            BounceEvent.kind == BounceKind.COMPLAINT,
            BounceEvent.created_at >= since,
        )
    ).scalar_one()
    volume = max(sent, int(current_app.config["COMPLAINT_RATE_MIN_VOLUME"]), 1)
    return RecentRate(domain, complaints, sent, 100.0 * complaints / volume)


def enforce_complaint_rate(domain: str) -> list[int]:
    """Pause the domain's sending campaigns when its recent
    complaint rate is above the threshold; the caller commits."""
    rate = recent_rate(domain)
    if rate.effective <= threshold():
        return []
    ids = [cid for cid, d in campaign_domains().items() if d == domain]
    sending = (
        db.session.execute(select(Campaign.id).where(Campaign.id.in_(ids), Campaign.status == "sending"))
        .scalars()
        .all()
    )
    if not sending:
        return []
    reason = (
        f"Paused automatically: {rate.complaints} spam complaint(s) about mail from {domain} in the last "
        f"24 hours against {rate.sent} messages sent — a complaint rate of {rate.effective:.2f} %, above "
        f"the {threshold():g} % limit (COMPLAINT_RATE_PAUSE_THRESHOLD). Mailbox providers block senders "
        f"above 0.3 %: check who is on the list and whether they expect this mail, then resume."
    )
    db.session.execute(
        update(Campaign)
        .where(Campaign.id.in_(sending), Campaign.status == "sending")
        .values(status="paused", status_reason=reason)
        .execution_options(synchronize_session=False)
    )
    log.error("Paused campaigns %s: %s", list(sending), reason)
    return list(sending)


# --- readiness (B1) -----------------------------------------------------------------------------------------


@dataclass
class Check:
    """One readiness item: ok, warn, fail, or unknown (DNS unreachable), with the record to publish."""

    name: str
    status: str
    detail: str
    record: Record | None = None
    hint: str = ""


@dataclass
class DomainReadiness:
    domain: str
    checks: list[Check] = field(default_factory=list)


@dataclass
class Readiness:
    """Readiness of every sending domain; dns_error says why DNS could not be asked (empty: it was)."""

    dns_error: str
    envelope_domain: str
    domains: list[DomainReadiness]
    checked_at: datetime

    @property
    def ready(self) -> bool:
        return not self.dns_error and all(c.status == "ok" for d in self.domains for c in d.checks)


def _active_key(domain: str) -> DkimKey | None:
    return (
        db.session.execute(
            select(DkimKey)
            .where(DkimKey.domain == domain, DkimKey.active.is_(True))
            .order_by(DkimKey.id.desc())
        )
        .scalars()
        .first()
    )


def _lookup(dns: Resolver | None, method: str, name: str) -> list[str] | None:
    """Records found, or None when DNS is unavailable."""
    if dns is None:
        return None
    try:
        return getattr(dns, method)(name)
    except DnsUnavailableError as exc:
        log.warning("DNS look-up of %s failed: %s", name, exc)
        return None


def _spf(dns, envelope: str, relay: str) -> Check:
    mechanisms = ["mx"] + ([f"a:{relay}"] if relay else []) + ["~all"]
    record = Record(envelope, "TXT", "v=spf1 " + " ".join(mechanisms))
    hint = (
        f"SPF is checked on the envelope sender's domain ({envelope}, where bounces go). List every server "
        "that sends for it; if your relay provider documents an include: mechanism, use theirs."
    )
    found = _lookup(dns, "txt", envelope)
    if found is None:
        return Check("SPF", "unknown", "DNS not reachable: publish this record.", record, hint)
    spf = [value for value in found if value.lower().startswith("v=spf1")]
    if not spf:
        return Check("SPF", "fail", f"No SPF record at {envelope}.", record, hint)
    if len(spf) > 1:
        return Check(
            "SPF",
            "fail",
            f"{len(spf)} SPF records at {envelope}: receivers treat that as an error "
            "(permerror). Merge them into one.",
            record,
            hint,
        )
    if "+all" in spf[0].lower().split():
        return Check(
            "SPF", "fail", f"The SPF record ends in +all, which lets anyone send as {envelope}.", record, hint
        )
    return Check("SPF", "ok", f"Published: {spf[0]}", record, hint)


def _dkim(dns, domain: str) -> Check:
    key = _active_key(domain)
    if key is None:
        return Check(
            "DKIM",
            "fail",
            f"No DKIM key for {domain}: mail from it goes out unsigned.",
            hint=f"Create one: flask --app wsgi dkim keygen {domain} --selector s{utcnow():%Y%m} "
            "(RSA-2048), then publish the record it prints.",
        )
    signer = DkimSigner(key.domain, key.selector, key.private_key_pem)
    value = signer.dns_record()
    record = Record(f"{key.selector}._domainkey.{domain}", "TXT", value)
    found = _lookup(dns, "txt", record.name)
    if found is None:
        return Check(
            "DKIM", "unknown", f"Selector {key.selector}; DNS not reachable: publish this record.", record
        )
    ours = value.split("p=", 1)[1]
    published = ["".join(v.split()).split("p=", 1)[1].split(";")[0] for v in found if "p=" in v]
    if not published:
        return Check("DKIM", "fail", f"Nothing published at {record.name}.", record)
    if ours not in published:
        return Check(
            "DKIM", "fail", f"The key published at {record.name} is not the one we sign with.", record
        )
    return Check(
        "DKIM",
        "ok",
        f"Selector {key.selector}: the published key matches ours (RSA-{signer.key.key_size}).",
        record,
    )


def _dmarc(dns, domain: str) -> Check:
    record = Record(f"_dmarc.{domain}", "TXT", f"v=DMARC1; p=none; rua=mailto:dmarc@{domain}")
    hint = (
        "p=none only monitors; once reports show all your mail passing, move to p=quarantine. The rua "
        "mailbox must exist (or leave rua out)."
    )
    names = [record.name] + (
        [f"_dmarc.{organisational_domain(domain)}"] if organisational_domain(domain) != domain else []
    )
    for name in names:
        found = _lookup(dns, "txt", name)
        if found is None:
            return Check("DMARC", "unknown", "DNS not reachable: publish this record.", record, hint)
        dmarc = [value for value in found if value.replace(" ", "").lower().startswith("v=dmarc1")]
        if len(dmarc) > 1:
            return Check(
                "DMARC",
                "fail",
                f"{len(dmarc)} DMARC records at {name}: receivers ignore them all.",
                record,
                hint,
            )
        if dmarc:
            return Check("DMARC", "ok", f"Published at {name}: {dmarc[0]}", record, hint)
    return Check("DMARC", "fail", f"No DMARC record at {record.name}.", record, hint)


def _alignment(domain: str, envelope: str) -> Check:
    dkim_aligned = _active_key(domain) is not None  # the composer signs with d=<From domain>
    spf_aligned = organisational_domain(envelope) == organisational_domain(domain)
    detail = (
        f"DKIM d={domain}: {'aligned' if dkim_aligned else 'no key, not aligned'}; envelope domain "
        f"{envelope}: {'aligned' if spf_aligned else 'not aligned'} with From {domain}."
    )
    hint = "DMARC passes when SPF or DKIM passes for a domain aligned with From; bulk-sender rules want both."
    if not dkim_aligned:
        hint += f" Create a DKIM key for {domain} (see DKIM above)."
    if not spf_aligned:
        hint += " Set MAILER_BOUNCE_ADDRESS on the From domain (or a subdomain of it) to align SPF."
    status = "ok" if dkim_aligned and spf_aligned else "warn" if dkim_aligned or spf_aligned else "fail"
    return Check("From alignment", status, detail, hint=hint)


def _bounce_mx(dns, envelope: str) -> Check:
    hint = (
        f"Bounces are addressed to {'@'.join(bounce_base())} (with a VERP tag). Point {envelope}'s MX at "
        "the host running flask --app wsgi bounces serve (or forward that mailbox to it)."
    )
    found = _lookup(dns, "mx", envelope)
    if found is None:
        return Check("Bounce mailbox", "unknown", "DNS not reachable.", hint=hint)
    if not found:
        return Check("Bounce mailbox", "warn", f"No MX for {envelope}: bounces cannot reach us.", hint=hint)
    return Check("Bounce mailbox", "ok", f"MX for {envelope}: {', '.join(found)}", hint=hint)


def _relay_host() -> str:
    """The relay's host name when it is a public one (worth naming in the SPF record)."""
    url = current_app.config.get("SMTP_URL") or ""
    host = SmtpSettings(url).host if url else ""
    return "" if not host or host in ("localhost",) or host.startswith("127.") or "." not in host else host


def readiness(refresh: bool = False) -> Readiness:
    """Check every sending domain (cached for a few minutes: a page view must not wait on DNS each time)."""
    config = current_app.config
    domains = sending_domains()
    keys = db.session.execute(select(DkimKey.id).where(DkimKey.active.is_(True))).scalars().all()
    key = (
        tuple(domains),
        tuple(keys),
        tuple(config["DNS_NAMESERVERS"]),
        config["MAILER_BOUNCE_ADDRESS"],
        config["SMTP_URL"],
    )
    cache = current_app.extensions.setdefault("mailer.readiness", {})
    cached = cache.get(key)
    if cached and not refresh and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    resolver = Resolver(config["DNS_NAMESERVERS"], config["DNS_TIMEOUT_SECONDS"])
    dns_error = resolver.probe()
    dns = None if dns_error else resolver
    envelope = bounce_base()[1].lower()
    relay = _relay_host()
    result = Readiness(dns_error, envelope, [], utcnow())
    for index, domain in enumerate(domains):
        checks = [
            _spf(dns, envelope, relay) if index == 0 or envelope == domain else None,
            _dkim(dns, domain),
            _dmarc(dns, domain),
            _alignment(domain, envelope),
            _bounce_mx(dns, envelope) if index == 0 else None,
        ]
        result.domains.append(DomainReadiness(domain, [c for c in checks if c is not None]))
    cache.clear()  # one entry is enough: the newest answer
    cache[key] = (time.monotonic(), result)
    return result
