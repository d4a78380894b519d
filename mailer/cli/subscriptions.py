"""Sign-ups never confirmed, from the command line: `flask purge-unconfirmed`."""

import click
from flask.cli import with_appcontext

from mailer.subscriptions.expiry import purge_unconfirmed as purge


@click.command("purge-unconfirmed")
@click.option("--dry-run", is_flag=True, help="Only report what would be purged.")
@click.option("--days", type=int, default=None, help="Override UNCONFIRMED_RETENTION_DAYS.")
@with_appcontext
def purge_unconfirmed(dry_run: bool, days: int | None) -> None:
    """Expire sign-ups never confirmed within the retention period."""
    report = purge(days=days, dry_run=dry_run)
    prefix = "Would purge" if dry_run else "Purged"
    click.echo(
        f"{prefix} {report['subscriptions']} pending subscriptions of {report['contacts']} contacts; "
        f"{report['anonymised']} contacts anonymised."
    )
