"""Data-subject rights and retention from the command line: `flask privacy …` and `flask retention run`.

Each right exercised here is recorded in the register of requests and in the audit log, like one answered in
the admin.
"""

import os
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import AppGroup

from mailer import audit
from mailer.consent.ledger import RequestContext
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.operations import AddressError, find_contact_by_email, normalise_email
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.privacy import export, requests
from mailer.privacy.erasure import erase_contact
from mailer.privacy.erasure_register import database_entries, file_entries
from mailer.privacy.restore import reapply_erasures
from mailer.privacy.restriction import lift_restriction, restrict
from mailer.privacy.retention import run_retention

OPERATOR = RequestContext("cli:operator")


def contact_or_fail(email: str) -> Contact:
    """The contact with this address, or a clear refusal when none (or only an erased one) exists."""
    try:
        contact = find_contact_by_email(normalise_email(email))
    except AddressError as exc:
        raise click.ClickException(str(exc)) from None
    if contact is None or contact.status == ContactStatus.ERASED:
        raise click.ClickException("No contact with that address: no personal data is held about it.")
    return contact


@click.group("privacy", cls=AppGroup)
def privacy() -> None:
    """Answer data-subject requests from the command line."""


@privacy.command("export")
@click.argument("email")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, writable=True),
    help="Where to write the ZIP.",
)
def privacy_export(email: str, out_path: str) -> None:
    """Write everything held about a person to a ZIP (sensitive fields masked: staff never see them in
    clear)."""
    contact = contact_or_fail(email)
    payload = export.build_zip(contact, clear_sensitive=False)
    with open(out_path, "wb") as handle:
        handle.write(payload)
    req = requests.record_operator_request(
        "access", contact, "cli", "Exported by an operator (CLI).", method="operator (CLI)"
    )
    audit.record("contact.export", "contact", contact.public_id, {"request": req.public_id, "via": "cli"})
    db.session.commit()
    click.echo(f"Wrote {len(payload)} bytes to {out_path}; request {req.public_id} recorded in the register.")


@privacy.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def privacy_erase(email: str, yes: bool) -> None:
    """Erase a person by anonymisation (cannot be undone)."""
    contact = contact_or_fail(email)
    if not yes:
        click.confirm(f"Erase {email} for good?", abort=True)
    req = requests.open_request("erasure", "cli", contact=contact)
    requests.mark_verified(req, "operator (CLI)")
    erase_contact(contact, OPERATOR, request=req)
    requests.complete(req, "Erased by anonymisation (CLI).")
    audit.record("contact.erase", "contact", contact.public_id, {"request": req.public_id, "via": "cli"})
    db.session.commit()
    click.echo(f"Erased; request {req.public_id} recorded in the register.")


def _restriction(email: str, lift: bool) -> None:
    """Restrict a person's processing, or lift it, as a verified request answered by the operator."""
    contact = contact_or_fail(email)
    req = requests.open_request(
        "restriction", "cli", contact=contact, details={"action": "lift"} if lift else {}
    )
    requests.mark_verified(req, "operator (CLI)")
    try:
        (lift_restriction if lift else restrict)(contact, OPERATOR, request=req)
    except PrivacyError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    requests.complete(req, "Restriction lifted (CLI)." if lift else "Processing restricted (CLI).")
    audit.record(
        "contact.unrestrict" if lift else "contact.restrict",
        "contact",
        contact.public_id,
        {"request": req.public_id, "via": "cli"},
    )
    db.session.commit()
    click.echo(f"{'Lifted the restriction' if lift else 'Restricted'}; request {req.public_id} recorded.")


def _since(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD) or time (YYYY-MM-DDTHH:MM)") from None
    if moment.tzinfo is not None:  # times are stored in UTC without a zone
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


@privacy.command("export-erasures")
@click.argument("out_path", type=click.Path(dir_okay=False, writable=True))
@click.option("--since", "since", default="", help="Only erasures at or after this UTC date or time.")
def privacy_export_erasures(out_path: str, since: str) -> None:
    """Write this database's erasure register (ids and keyed hashes only) to a file, e.g. before a restore."""
    entries = database_entries(_since(since) if since else None)
    with open(out_path, "w", encoding="utf-8") as handle:
        handle.writelines(entry.line() + "\n" for entry in entries)
    click.echo(f"Wrote {len(entries)} erasures to {out_path}.")


@privacy.command("reapply-erasures")
@click.option("--since", "since", required=True, help="The backup's date or time (UTC), e.g. 2026-12-01.")
@click.option(
    "--register",
    "registers",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="An erasure register file (export-erasures, or MAILER_ERASURE_REGISTER_FILE, read by default).",
)
def privacy_reapply_erasures(since: str, registers: tuple[str, ...]) -> None:
    """After restoring a backup: erase again everyone erased since the backup's date, so nobody comes back."""
    moment = _since(since)
    paths = list(registers)
    configured = current_app.config["MAILER_ERASURE_REGISTER_FILE"]
    if not paths and configured and os.path.exists(configured):
        paths.append(configured)
    try:
        entries = [entry for path in paths for entry in file_entries(path)]
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    done = reapply_erasures(moment, entries)
    click.echo(
        f"Erasures since {moment:%Y-%m-%d %H:%M} UTC (register: database"
        f"{''.join(', ' + p for p in paths)}): {done.erased} contacts erased again, {done.already} already "
        f"erased, {done.absent} not in this database, {done.suppressions} suppressions restored."
    )


@privacy.command("restrict")
@click.argument("email")
def privacy_restrict(email: str) -> None:
    """Restrict processing: no mail of any kind, no edits except by a privacy officer."""
    _restriction(email, lift=False)


@privacy.command("unrestrict")
@click.argument("email")
def privacy_unrestrict(email: str) -> None:
    """Lift a restriction."""
    _restriction(email, lift=True)


@click.group("retention", cls=AppGroup)
def retention() -> None:
    """Storage limitation: lifetimes per data category."""


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="Only report what would go, and why.")
def retention_run(dry_run: bool) -> None:
    """Apply every retention lifetime now."""
    report = run_retention(dry_run=dry_run)
    for item in report.items:
        click.echo(
            f"{'would remove' if dry_run else 'removed'} {item.count:>6} {item.category}: {item.reason}"
        )
    click.echo(f"{'Dry run' if dry_run else 'Done'}: {report.total} in total.")
