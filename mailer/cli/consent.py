"""The consent ledger from the command line: `flask consent verify` and `flask consent rebuild`."""

import click
from flask.cli import AppGroup

from mailer.consent.ledger import rebuild_states
from mailer.consent.verify import verify_chain, verify_since_checkpoint


@click.group("consent", cls=AppGroup)
def consent() -> None:
    """The consent ledger."""


@consent.command("verify")
@click.option(
    "--incremental",
    is_flag=True,
    help="Verify only the events appended since the last verified checkpoint (a full run stores one).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 16),
    default=None,
    help="PostgreSQL: spans of events proven at once (default: one per CPU, at most four).",
)
def consent_verify(incremental: bool, workers: int | None) -> None:
    """Prove the ledger's hash chain intact; exits 1 and names the first bad event otherwise."""

    def progress(checked: int) -> None:
        click.echo(f"… {checked:,} events verified", err=True)

    if incremental:
        report = verify_since_checkpoint(progress, workers)
    else:
        report = verify_chain(progress, checkpoint=True, workers=workers)
    if report.ok and report.since_event_id:
        click.echo(f"Ledger intact: {report.checked} events verified since event {report.since_event_id}.")
        return
    if report.ok:
        click.echo(f"Ledger intact: {report.checked} events verified.")
        return
    click.echo(
        f"Ledger TAMPERED at event {report.bad_event_id}: {report.reason} "
        f"({report.checked} events verified before it).",
        err=True,
    )
    raise SystemExit(1)


@consent.command("rebuild")
def consent_rebuild() -> None:
    """Recompute the current-consent cache from the ledger."""
    click.echo(f"Rebuilt {rebuild_states()} consent states from the ledger.")
