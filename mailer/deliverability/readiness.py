"""Sending-domain readiness (REQUIREMENTS B1): what DNS must say before a domain sends.

SPF on the envelope (VERP) domain, the DKIM key from our key storage published at <selector>._domainkey, a
DMARC record, and From alignment (DKIM d= and the envelope domain against the From domain). When DNS cannot
be reached, every DNS check is "unknown" and the exact records to publish are shown. A check's words are lazy:
the answer is cached for a few minutes and each reader sees it in their own language (the CLI in English).
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias

from flask import current_app
from flask_babel import lazy_gettext
from flask_babel.speaklater import LazyString
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
Words: TypeAlias = (
    str | LazyString
)  # a sentence shown to staff, in the reader's language once turned into text


def _sentences(*parts: Words) -> LazyString:
    """Sentences joined with a space when read (each in the reader's language)."""
    return LazyString(lambda: " ".join(str(part) for part in parts))


@dataclass
class Check:
    """One readiness item: ok, warn, fail, or unknown (DNS unreachable), with the record to publish."""

    name: str  # SPF, DKIM, DMARC, "From alignment" or "Bounce mailbox" (the admin names the last two)
    status: str
    detail: Words
    record: Record | None = None
    hint: Words = ""


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


UNREACHABLE_PUBLISH = lazy_gettext("DNS not reachable: publish this record.")


def _spf(dns, envelope: str, relay: str) -> Check:
    mechanisms = ["mx"] + ([f"a:{relay}"] if relay else []) + ["~all"]
    record = Record(envelope, "TXT", "v=spf1 " + " ".join(mechanisms))
    hint = lazy_gettext(
        "SPF is checked on the envelope sender's domain (%(domain)s, where bounces go). List every server "
        "that sends for it; if your relay provider documents an include: mechanism, use theirs.",
        domain=envelope,
    )
    found = _lookup(dns, "txt", envelope)
    if found is None:
        return Check("SPF", "unknown", UNREACHABLE_PUBLISH, record, hint)
    spf = [value for value in found if value.lower().startswith("v=spf1")]
    if not spf:
        return Check("SPF", "fail", lazy_gettext("No SPF record at %(name)s.", name=envelope), record, hint)
    if len(spf) > 1:
        return Check(
            "SPF",
            "fail",
            lazy_gettext(
                "%(count)s SPF records at %(name)s: receivers treat that as an error (permerror). Merge them "
                "into one.",
                count=len(spf),
                name=envelope,
            ),
            record,
            hint,
        )
    if "+all" in spf[0].lower().split():
        detail = lazy_gettext(
            "The SPF record ends in +all, which lets anyone send as %(domain)s.", domain=envelope
        )
        return Check("SPF", "fail", detail, record, hint)
    return Check("SPF", "ok", lazy_gettext("Published: %(record)s", record=spf[0]), record, hint)


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
            lazy_gettext("No DKIM key for %(domain)s: mail from it goes out unsigned.", domain=domain),
            hint=lazy_gettext(
                "Create one: %(command)s (RSA-2048), then publish the record it prints.",
                command=f"flask --app wsgi dkim keygen {domain} --selector s{utcnow():%Y%m}",
            ),
        )
    signer = DkimSigner(key.domain, key.selector, key.private_key_pem)
    value = signer.dns_record()
    record = Record(f"{key.selector}._domainkey.{domain}", "TXT", value)
    found = _lookup(dns, "txt", record.name)
    if found is None:
        detail = lazy_gettext(
            "Selector %(selector)s; DNS not reachable: publish this record.", selector=key.selector
        )
        return Check("DKIM", "unknown", detail, record)
    published = published_keys(found)
    if not published:
        return Check("DKIM", "fail", lazy_gettext("Nothing published at %(name)s.", name=record.name), record)
    if public_key_of(value) not in published:
        detail = lazy_gettext("The key published at %(name)s is not the one we sign with.", name=record.name)
        return Check("DKIM", "fail", detail, record)
    detail = lazy_gettext(
        "Selector %(selector)s: the published key matches ours (RSA-%(bits)s).",
        selector=key.selector,
        bits=signer.key.key_size,
    )
    return Check("DKIM", "ok", detail, record)


def _dmarc(dns, domain: str) -> Check:
    record = Record(f"_dmarc.{domain}", "TXT", f"v=DMARC1; p=none; rua=mailto:dmarc@{domain}")
    hint = lazy_gettext(
        "p=none only monitors; once reports show all your mail passing, move to p=quarantine. The rua "
        "mailbox must exist (or leave rua out)."
    )
    names = [record.name] + (
        [f"_dmarc.{organisational_domain(domain)}"] if organisational_domain(domain) != domain else []
    )
    for name in names:
        found = _lookup(dns, "txt", name)
        if found is None:
            return Check("DMARC", "unknown", UNREACHABLE_PUBLISH, record, hint)
        dmarc = [value for value in found if value.replace(" ", "").lower().startswith("v=dmarc1")]
        if len(dmarc) > 1:
            detail = lazy_gettext(
                "%(count)s DMARC records at %(name)s: receivers ignore them all.", count=len(dmarc), name=name
            )
            return Check("DMARC", "fail", detail, record, hint)
        if dmarc:
            detail = lazy_gettext("Published at %(name)s: %(record)s", name=name, record=dmarc[0])
            return Check("DMARC", "ok", detail, record, hint)
    return Check(
        "DMARC", "fail", lazy_gettext("No DMARC record at %(name)s.", name=record.name), record, hint
    )


def _alignment(domain: str, envelope: str) -> Check:
    dkim_aligned = _active_key(domain) is not None  # the composer signs with d=<From domain>
    spf_aligned = organisational_domain(envelope) == organisational_domain(domain)
    detail = _sentences(
        lazy_gettext("DKIM d=%(domain)s: aligned;", domain=domain)
        if dkim_aligned
        else lazy_gettext("DKIM d=%(domain)s: no key, not aligned;", domain=domain),
        lazy_gettext(
            "envelope domain %(envelope)s: aligned with From %(domain)s.", envelope=envelope, domain=domain
        )
        if spf_aligned
        else lazy_gettext(
            "envelope domain %(envelope)s: not aligned with From %(domain)s.",
            envelope=envelope,
            domain=domain,
        ),
    )
    hints: list[Words] = [
        lazy_gettext(
            "DMARC passes when SPF or DKIM passes for a domain aligned with From; bulk-sender rules want "
            "both."
        )
    ]
    if not dkim_aligned:
        hints.append(lazy_gettext("Create a DKIM key for %(domain)s (see DKIM above).", domain=domain))
    if not spf_aligned:
        hints.append(
            lazy_gettext("Set MAILER_BOUNCE_ADDRESS on the From domain (or a subdomain of it) to align SPF.")
        )
    status = "ok" if dkim_aligned and spf_aligned else "warn" if dkim_aligned or spf_aligned else "fail"
    return Check("From alignment", status, detail, hint=_sentences(*hints))


def _bounce_mx(dns, envelope: str) -> Check:
    hint = lazy_gettext(
        "Bounces are addressed to %(address)s (with a VERP tag). Point the MX of %(domain)s at the host "
        "running flask --app wsgi bounces serve (or forward that mailbox to it).",
        address="@".join(bounce_base()),
        domain=envelope,
    )
    found = _lookup(dns, "mx", envelope)
    if found is None:
        return Check("Bounce mailbox", "unknown", lazy_gettext("DNS not reachable."), hint=hint)
    if not found:
        detail = lazy_gettext("No MX for %(domain)s: bounces cannot reach us.", domain=envelope)
        return Check("Bounce mailbox", "warn", detail, hint=hint)
    detail = lazy_gettext("MX for %(domain)s: %(hosts)s", domain=envelope, hosts=", ".join(found))
    return Check("Bounce mailbox", "ok", detail, hint=hint)


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
