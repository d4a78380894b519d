"""The audience's page totals from the command line: `flask audience recount [--check]`."""

import click
from flask.cli import with_appcontext

from mailer.core import counters
from mailer.core.extensions import db


@click.group("audience")
def audience() -> None:
    """Totals the pages show (subscriptions per list, contacts, deliveries per campaign)."""


@audience.command("recount")
@click.option("--check", is_flag=True, help="Only report where the kept totals and a recount differ.")
@with_appcontext
def recount(check: bool) -> None:
    """Recount every counter table from the rows it counts and replace what it holds (repair); exits 1 with
    --check when any total is off."""
    off = 0
    for table in counters.COUNTERS:
        differences = counters.drift(table)
        off += len(differences)
        for group, (kept, recounted) in sorted(differences.items(), key=str):
            click.echo(f"{table} {' '.join(map(str, group))}: kept {kept}, recounted {recounted}")
        if not check:
            counters.recount(table)
            db.session.commit()
            click.echo(f"{table}: recounted")
    if check:
        click.echo("Every total matches a recount." if not off else f"{off} totals differ from a recount.")
        if off:
            raise SystemExit(1)
