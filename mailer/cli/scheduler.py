"""The periodic scheduler as a foreground process: `flask scheduler` (one per deployment)."""

import click
from flask.cli import ScriptInfo, pass_script_info, with_appcontext

from mailer.scheduler import build_scheduler


@click.command("scheduler")
@with_appcontext
@pass_script_info
def scheduler(info: ScriptInfo) -> None:
    """Run the periodic scheduler in the foreground (one per deployment)."""
    click.echo("Scheduler running; Ctrl+C to stop.")
    build_scheduler(info.load_app(), blocking=True).start()
