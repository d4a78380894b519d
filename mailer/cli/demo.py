"""The demo data from the command line: `flask seed-demo`."""

import click
from flask.cli import with_appcontext

from mailer import demo
from mailer.core.urls import external_url


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Create the demo list and the demo form (slug `demo`) if missing."""
    form = demo.seed_demo()
    click.echo(f"Demo form ready: {external_url('embed.hosted_form', slug=form.slug)}")
