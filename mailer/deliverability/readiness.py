"""Sending-domain readiness (REQUIREMENTS B1): what DNS must say before a domain sends.

SPF on the envelope (VERP) domain, the DKIM key from our key storage published at <selector>._domainkey, a
DMARC record, and From alignment (DKIM d= and the envelope domain against the From domain). When DNS cannot
be reached, every DNS check is "unknown" and the exact records to publish are shown.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.deliverability.dnscheck import DnsUnavailableError, Record, Resolver, organisational_domain
from mailer.deliverability.domains import sending_domains
from mailer.delivery.dkim import DkimSigner
from mailer.delivery.models import DkimKey
from mailer.delivery.replies import bounce_base
from mailer.delivery.transport import SmtpSettings

log = logging.getLogger(__name__)
CACHE_SECONDS = 300


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


def public_key_of(record_value: str) -> str:
    """The p= value of a DKIM TXT record."""
    return record_value.split("p=", 1)[1]


def published_keys(found: list[str]) -> list[str]:
    """The p= values of the TXT records found at a selector (spaces between strings removed)."""
    return ["".join(v.split()).split("p=", 1)[1].split(";")[0] for v in found if "p=" in v]


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
    published = published_keys(found)
    if not published:
        return Check("DKIM", "fail", f"Nothing published at {record.name}.", record)
    if public_key_of(value) not in published:
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
