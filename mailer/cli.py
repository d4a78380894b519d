"""Operator commands: `flask --app wsgi <command>`."""
import click
from flask import Flask

from mailer.extensions import db


def init_app(app: Flask) -> None:
    """Register every command group on the app."""
    init_import_command(app)
    init_sending_commands(app)
    from mailer import cli_deliverability

    cli_deliverability.init_app(app)  # bounces serve/process/purge, doctor

    @app.cli.command("create-admin")
    @click.argument("email")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
                  help="Prompted for when left out.")
    @click.option("--role", default="owner", show_default=True,
                  type=click.Choice(["owner", "admin", "marketer", "viewer", "privacy"]))
    def create_admin(email: str, password: str, role: str) -> None:
        """Create a staff account."""
        from mailer.services.staff import StaffError, create_staff

        try:
            user = create_staff(email, password, role)
        except StaffError as exc:
            raise click.ClickException(str(exc)) from None
        db.session.commit()
        click.echo(f"Created {user.role} account {user.email}.")

    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Create the demo list and the demo form (slug `demo`) if missing."""
        from mailer.services.demo import seed_demo as seed
        from mailer.urls import external_url

        form = seed()
        click.echo(f"Demo form ready: {external_url('embed.hosted_form', slug=form.slug)}")

    @app.cli.group("consent")
    def consent() -> None:
        """The consent ledger."""

    @consent.command("verify")
    def consent_verify() -> None:
        """Prove the ledger's hash chain intact; exits 1 and names the first bad event otherwise."""
        from mailer.services.ledger import verify_chain

        report = verify_chain()
        if report.ok:
            click.echo(f"Ledger intact: {report.checked} events verified.")
            return
        click.echo(f"Ledger TAMPERED at event {report.bad_event_id}: {report.reason} "
                   f"({report.checked} events verified before it).", err=True)
        raise SystemExit(1)

    @consent.command("rebuild")
    def consent_rebuild() -> None:
        """Recompute the current-consent cache from the ledger."""
        from mailer.services.ledger import rebuild_states

        click.echo(f"Rebuilt {rebuild_states()} consent states from the ledger.")

    @app.cli.command("purge-unconfirmed")
    @click.option("--dry-run", is_flag=True, help="Only report what would be purged.")
    @click.option("--days", type=int, default=None, help="Override UNCONFIRMED_RETENTION_DAYS.")
    def purge_unconfirmed(dry_run: bool, days: int | None) -> None:
        """Expire sign-ups never confirmed within the retention period."""
        from mailer.services.retention import purge_unconfirmed as purge

        report = purge(days=days, dry_run=dry_run)
        prefix = "Would purge" if dry_run else "Purged"
        click.echo(f"{prefix} {report['subscriptions']} pending subscriptions of {report['contacts']} contacts; "
                   f"{report['anonymised']} contacts anonymised.")

    @app.cli.command("scheduler")
    def scheduler() -> None:
        """Run the periodic scheduler in the foreground (one per deployment)."""
        from mailer.scheduler import build_scheduler

        click.echo("Scheduler running; Ctrl+C to stop.")
        build_scheduler(app, blocking=True).start()


def init_import_command(app: Flask) -> None:
    """`flask import-contacts`: the CSV import from the command line (same rules as the admin page)."""

    @app.cli.command("import-contacts")
    @click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
    @click.option("--list", "list_name", required=True, help="Name of the list to import into.")
    @click.option("--mode", type=click.Choice(["double-opt-in", "has-consent"]), default="double-opt-in",
                  show_default=True)
    @click.option("--statement", default="", help="Where and how consent was obtained (required for has-consent).")
    def import_contacts(csv_file: str, list_name: str, mode: str, statement: str) -> None:
        """Import contacts from CSV into a list and wait for the worker to finish it."""
        from sqlalchemy import select

        from mailer.models import MailingList
        from mailer.services import imports

        mailing_list = db.session.execute(select(MailingList).where(MailingList.name == list_name)).scalar_one_or_none()
        with open(csv_file, "rb") as handle:
            req = imports.ImportRequest(filename=csv_file.rsplit("/", 1)[-1], data=handle.read(),
                                        mailing_list=mailing_list, mode=mode.replace("-", "_"),
                                        consent_statement=statement)
        try:
            job = imports.create_import(req, staff_id=None, queue=False)
        except imports.ImportRefused as exc:
            raise click.ClickException(str(exc)) from None
        db.session.commit()
        imports.run_import(job.id)  # the operator waits for it here
        job = db.session.get(type(job), job.id)
        click.echo(f"Import {job.status}: {job.added} added, {job.invited} invited by double opt-in, "
                   f"skipped {sum(job.skipped.values())} {job.skipped or ''}")


def init_sending_commands(app: Flask) -> None:
    """DKIM keys and campaign recovery (issue 3)."""

    @app.cli.group("dkim")
    def dkim() -> None:
        """DKIM signing keys."""

    @dkim.command("keygen")
    @click.argument("domain")
    @click.option("--selector", required=True, help="Names the key in DNS: <selector>._domainkey.<domain>.")
    def dkim_keygen(domain: str, selector: str) -> None:
        """Create an RSA-2048 key for DOMAIN, store it, and print the DNS TXT record to publish."""
        from mailer.sending.dkim import dns_txt_lines, generate_key

        try:
            key = generate_key(domain, selector)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        db.session.commit()
        click.echo(f"Created DKIM key {key.selector} for {key.domain}; mail from @{key.domain} is now signed with it.")
        click.echo("Publish this TXT record in DNS:")
        click.echo(dns_txt_lines(key))

    @dkim.command("show")
    @click.argument("domain")
    def dkim_show(domain: str) -> None:
        """Print the DNS TXT records of DOMAIN's keys."""
        from sqlalchemy import select

        from mailer.models.campaign import DkimKey
        from mailer.sending.dkim import dns_txt_lines

        keys = db.session.execute(select(DkimKey).where(DkimKey.domain == domain.lower())).scalars().all()
        if not keys:
            raise click.ClickException(f"No DKIM key for {domain}; create one with `dkim keygen`.")
        for key in keys:
            click.echo(f"; {'active' if key.active else 'retired'} key, created {key.created_at:%Y-%m-%d}")
            click.echo(dns_txt_lines(key))

    @app.cli.command("recover-deliveries")
    @click.option("--after", type=int, default=None, help="Seconds in 'sending' before a delivery counts as stuck.")
    def recover_deliveries(after: int | None) -> None:
        """Mark deliveries left in 'sending' by a dead worker as uncertain and re-queue stalled campaigns."""
        from mailer.services.campaigns import recover_stuck

        report = recover_stuck(after)
        click.echo(f"{report['uncertain']} deliveries marked uncertain; "
                   f"{len(report['requeued_campaigns'])} stalled campaigns re-queued.")
