"""Sending from the command line: DKIM keys (`flask dkim …`) and recovery after a crash."""

import click
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from mailer.campaigns.lifecycle import recover_stuck
from mailer.core.extensions import db
from mailer.delivery.dkim import dns_txt_lines, generate_key
from mailer.delivery.dkim_keys import DkimKeyError
from mailer.delivery.models import DkimKey


@click.group("dkim", cls=AppGroup)
def dkim() -> None:
    """DKIM signing keys."""


@dkim.command("keygen")
@click.argument("domain")
@click.option("--selector", required=True, help="Names the key in DNS: <selector>._domainkey.<domain>.")
def dkim_keygen(domain: str, selector: str) -> None:
    """Create an RSA-2048 key for DOMAIN, store it, and print the DNS TXT record to publish."""
    try:
        key = generate_key(domain, selector)
    except (ValueError, DkimKeyError) as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(
        f"Created DKIM key {key.selector} for {key.domain}; mail from @{key.domain} is now signed with it."
    )
    click.echo("Publish this TXT record in DNS:")
    click.echo(dns_txt_lines(key))


@dkim.command("show")
@click.argument("domain")
def dkim_show(domain: str) -> None:
    """Print the DNS TXT records of DOMAIN's keys."""
    keys = db.session.execute(select(DkimKey).where(DkimKey.domain == domain.lower())).scalars().all()
    if not keys:
        raise click.ClickException(f"No DKIM key for {domain}; create one with `dkim keygen`.")
    for key in keys:
        click.echo(f"; {'active' if key.active else 'retired'} key, created {key.created_at:%Y-%m-%d}")
        click.echo(dns_txt_lines(key))


@click.command("recover-deliveries")
@click.option(
    "--after", type=int, default=None, help="Seconds in 'sending' before a delivery counts as stuck."
)
@with_appcontext
def recover_deliveries(after: int | None) -> None:
    """Mark deliveries left in 'sending' by a dead worker as uncertain and re-queue stalled campaigns."""
    report = recover_stuck(after)
    click.echo(
        f"{report['uncertain']} deliveries marked uncertain; "
        f"{len(report['requeued_campaigns'])} stalled campaigns re-queued."
    )
