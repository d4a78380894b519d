"""DKIM key rotation from the Deliverability page: a new selector is created beside the signing key (not
signing yet), its TXT record published and checked in DNS, then signing switches to it; the old key stays,
retired, and is still listed. Every step is audited."""

from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext
from sqlalchemy import select

from mailer import audit
from mailer.core.extensions import db
from mailer.deliverability.dnscheck import DnsUnavailableError, Resolver
from mailer.deliverability.readiness import public_key_of, published_keys
from mailer.delivery.dkim import DkimSigner, dns_txt_lines, generate_key
from mailer.delivery.models import DkimKey

SIGNING, PENDING, RETIRED = "signing", "pending", "retired"


class RotationError(ValueError):
    """A rotation step that cannot be done now; the message is safe to show."""


@dataclass(frozen=True)
class KeyView:
    """A key as the page lists it: its state, the record to publish and the zone line."""

    key: DkimKey
    state: str
    name: str
    zone_line: str


def domain_keys(domain: str) -> list[KeyView]:
    """A domain's keys, newest first: the one signing, newer ones waiting to be switched to, older retired."""
    query = select(DkimKey).where(DkimKey.domain == domain).order_by(DkimKey.id.desc())
    keys = list(db.session.execute(query).scalars())
    signing = next((k for k in keys if k.active), None)
    views = []
    for key in keys:
        if key is signing:
            state = SIGNING
        elif signing is None or key.id > signing.id:
            state = PENDING
        else:
            state = RETIRED
        views.append(KeyView(key, state, f"{key.selector}._domainkey.{key.domain}", dns_txt_lines(key)))
    return views


def all_domain_keys(domains: list[str]) -> dict[str, list[KeyView]]:
    """The keys of every sending domain (domains without a key included, with an empty list)."""
    return {domain: domain_keys(domain) for domain in domains}


def start_rotation(domain: str, selector: str, *, actor: object, ip: str | None = None) -> DkimKey:
    """Create a key under a new selector that does not sign until it is switched to. The caller commits."""
    try:
        key = generate_key(domain, selector, activate=False)
    except ValueError as exc:
        raise RotationError(str(exc)) from None
    audit.record("dkim.create", "dkim_key", f"{key.selector}._domainkey.{key.domain}", actor=actor, ip=ip)
    return key


def _resolver() -> Resolver:
    config = current_app.config
    return Resolver(config["DNS_NAMESERVERS"], config["DNS_TIMEOUT_SECONDS"])


def check_published(key: DkimKey) -> tuple[bool, str]:
    """Ask DNS now whether the key's public half is published at its selector: (published, what was found)."""
    name = f"{key.selector}._domainkey.{key.domain}"
    try:
        found = _resolver().txt(name)
    except DnsUnavailableError as exc:
        return False, gettext("DNS could not be asked: %(error)s.", error=exc)
    ours = public_key_of(DkimSigner(key.domain, key.selector, key.private_key_pem).dns_record())
    published = published_keys(found)
    if not published:
        return False, gettext("Nothing is published at %(name)s yet.", name=name)
    if ours not in published:
        return False, gettext("The key published at %(name)s is not this one.", name=name)
    return True, gettext("The record at %(name)s is published and matches this key.", name=name)


def get_key(key_id: int) -> DkimKey | None:
    """One key by its id."""
    return db.session.get(DkimKey, key_id)


def switch_to(key_id: int, *, actor: object, ip: str | None = None) -> DkimKey:
    """Sign with this key from now on, only when DNS shows it published; the previous key is retired (kept).
    The caller commits."""
    key = db.session.get(DkimKey, key_id)
    if key is None:
        raise LookupError(key_id)
    view = next(v for v in domain_keys(key.domain) if v.key.id == key.id)
    if view.state != PENDING:
        refusal = (
            gettext(
                "Selector %(selector)s is retired: only a new, published key can be switched to.",
                selector=key.selector,
            )
            if view.state == RETIRED
            else gettext(
                "Selector %(selector)s already signs: only a new, published key can be switched to.",
                selector=key.selector,
            )
        )
        raise RotationError(refusal)
    published, detail = check_published(key)
    if not published:
        raise RotationError(
            gettext(
                "Not switched: %(detail)s Publish the record, wait for DNS, then try again.", detail=detail
            )
        )
    previous = [
        k
        for k in db.session.execute(select(DkimKey).where(DkimKey.domain == key.domain)).scalars()
        if k.active
    ]
    for older in previous:
        older.active = False
    key.active = True
    audit.record(
        "dkim.switch",
        "dkim_key",
        view.name,
        {"retired": [f"{k.selector}._domainkey.{k.domain}" for k in previous]},
        actor=actor,
        ip=ip,
    )
    return key
