"""Contacts from the command line: `flask import-contacts`, the CSV import with the admin page's rules."""

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from mailer.core.extensions import db
from mailer.subscriptions import imports
from mailer.subscriptions.models.lists import MailingList


@click.command("import-contacts")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--list", "list_name", required=True, help="Name of the list to import into.")
@click.option(
    "--mode",
    type=click.Choice(["double-opt-in", "has-consent"]),
    default="double-opt-in",
    show_default=True,
)
@click.option(
    "--statement", default="", help="Where and how consent was obtained (required for has-consent)."
)
@click.option(
    "--map",
    "mappings",
    multiple=True,
    metavar="COLUMN=TARGET",
    help="What a column goes to: email, name, first_name, last_name, field:<key> or ignore (repeatable).",
)
@click.option("--ignore-unknown", is_flag=True, help="Ignore the columns not mapped by name or --map.")
@with_appcontext
def import_contacts(
    csv_file: str, list_name: str, mode: str, statement: str, mappings: tuple[str, ...], ignore_unknown: bool
) -> None:
    """Import contacts from CSV into a list and wait for the worker to finish it."""
    mailing_list = db.session.execute(
        select(MailingList).where(MailingList.name == list_name)
    ).scalar_one_or_none()
    chosen = dict(item.partition("=")[::2] for item in mappings)
    with open(csv_file, "rb") as handle:
        req = imports.ImportRequest(
            filename=csv_file.rsplit("/", 1)[-1],
            source=handle,
            mailing_list=mailing_list,
            mode=mode.replace("-", "_"),
            consent_statement=statement,
        )
        try:
            job = imports.create_import(req, staff_id=None)
            assert job.layout is not None
            mapping = [
                chosen.get(column, guess or ("ignore" if ignore_unknown else ""))
                for column, guess in zip(job.layout["columns"], job.layout["mapping"], strict=True)
            ]
            imports.confirm_mapping(job, mapping, queue=False)
        except imports.ImportRefusedError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None
    db.session.commit()
    imports.run_import(job.id)  # the operator waits for it here
    db.session.refresh(job)  # the worker's counts, committed in the same session
    click.echo(
        f"Import {job.status}: {job.added} added, {job.invited} invited by double opt-in, "
        f"skipped {sum(job.skipped.values())} {job.skipped or ''}"
    )
