"""The consent ledger from the command line: `flask consent verify` and `flask consent rebuild`."""

import click
from flask.cli import AppGroup

from mailer.consent.ledger import rebuild_states, verify_chain


@click.group("consent", cls=AppGroup)
def consent() -> None:
    """The consent ledger."""


@consent.command("verify")
def consent_verify() -> None:
    """Prove the ledger's hash chain intact; exits 1 and names the first bad event otherwise."""
    report = verify_chain()
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
