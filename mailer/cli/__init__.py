"""Operator commands: `flask --app wsgi <command>`."""

import click
from flask import Flask

from mailer.contacts.models.contact import ContactStatus
from mailer.core.extensions import db


def init_app(app: Flask) -> None:
    """Register every command group on the app."""
    init_import_command(app)
    init_sending_commands(app)
    init_privacy_commands(app)
    from mailer.cli import deliverability as cli_deliverability

    cli_deliverability.init_app(app)  # bounces serve/process/purge, doctor

    @app.cli.command("create-admin")
    @click.argument("email")
    @click.option(
        "--password",
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        help="Prompted for when left out.",
    )
    @click.option(
        "--role",
        default="owner",
        show_default=True,
        type=click.Choice(["owner", "admin", "marketer", "viewer", "privacy"]),
    )
    def create_admin(email: str, password: str, role: str) -> None:
        """Create a staff account."""
        from mailer.staff.models.accounts import ROLES_NEEDING_SECOND_FACTOR
        from mailer.staff.accounts import StaffError, create_staff

        try:
            user = create_staff(email, password, role)
        except StaffError as exc:
            raise click.ClickException(str(exc)) from None
        db.session.commit()
        click.echo(f"Created {user.role} account {user.email}.")
        if user.role in ROLES_NEEDING_SECOND_FACTOR:
            click.echo("At the first login the admin asks to set up a second factor (an authenticator app).")

    @app.cli.command("reset-second-factor")
    @click.argument("email")
    def reset_second_factor(email: str) -> None:
        """Remove a staff account's authenticator app, passkeys and recovery codes (lost phone and codes)."""
        from sqlalchemy import select

        from mailer.staff.models.accounts import StaffUser
        from mailer.contacts.operations import AddressError, normalise_email
        from mailer.staff.second_factor import reset_second_factors

        try:
            address = normalise_email(email)
        except AddressError as exc:
            raise click.ClickException(str(exc)) from None
        user = db.session.execute(select(StaffUser).where(StaffUser.email == address)).scalar_one_or_none()
        if user is None:
            raise click.ClickException(f"No staff account {address}.")
        reset_second_factors(user)
        db.session.commit()
        click.echo(
            f"Removed every second factor of {user.email} and ended their sessions; "
            "they set one up again at their next login."
        )

    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Create the demo list and the demo form (slug `demo`) if missing."""
        from mailer.demo import seed_demo as seed
        from mailer.core.urls import external_url

        form = seed()
        click.echo(f"Demo form ready: {external_url('embed.hosted_form', slug=form.slug)}")

    @app.cli.group("consent")
    def consent() -> None:
        """The consent ledger."""

    @consent.command("verify")
    def consent_verify() -> None:
        """Prove the ledger's hash chain intact; exits 1 and names the first bad event otherwise."""
        from mailer.consent.ledger import verify_chain

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
        from mailer.consent.ledger import rebuild_states

        click.echo(f"Rebuilt {rebuild_states()} consent states from the ledger.")

    @app.cli.command("purge-unconfirmed")
    @click.option("--dry-run", is_flag=True, help="Only report what would be purged.")
    @click.option("--days", type=int, default=None, help="Override UNCONFIRMED_RETENTION_DAYS.")
    def purge_unconfirmed(dry_run: bool, days: int | None) -> None:
        """Expire sign-ups never confirmed within the retention period."""
        from mailer.subscriptions.expiry import purge_unconfirmed as purge

        report = purge(days=days, dry_run=dry_run)
        prefix = "Would purge" if dry_run else "Purged"
        click.echo(
            f"{prefix} {report['subscriptions']} pending subscriptions of {report['contacts']} contacts; "
            f"{report['anonymised']} contacts anonymised."
        )

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
    @click.option(
        "--mode",
        type=click.Choice(["double-opt-in", "has-consent"]),
        default="double-opt-in",
        show_default=True,
    )
    @click.option(
        "--statement", default="", help="Where and how consent was obtained (required for has-consent)."
    )
    def import_contacts(csv_file: str, list_name: str, mode: str, statement: str) -> None:
        """Import contacts from CSV into a list and wait for the worker to finish it."""
        from sqlalchemy import select

        from mailer.subscriptions.models.lists import MailingList
        from mailer.subscriptions import imports

        mailing_list = db.session.execute(
            select(MailingList).where(MailingList.name == list_name)
        ).scalar_one_or_none()
        with open(csv_file, "rb") as handle:
            req = imports.ImportRequest(
                filename=csv_file.rsplit("/", 1)[-1],
                data=handle.read(),
                mailing_list=mailing_list,
                mode=mode.replace("-", "_"),
                consent_statement=statement,
            )
        try:
            job = imports.create_import(req, staff_id=None, queue=False)
        except imports.ImportRefusedError as exc:
            raise click.ClickException(str(exc)) from None
        db.session.commit()
        imports.run_import(job.id)  # the operator waits for it here
        job = db.session.get(type(job), job.id)
        click.echo(
            f"Import {job.status}: {job.added} added, {job.invited} invited by double opt-in, "
            f"skipped {sum(job.skipped.values())} {job.skipped or ''}"
        )


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
        from mailer.delivery.dkim import dns_txt_lines, generate_key
        from mailer.delivery.dkim_keys import DkimKeyError

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
        from sqlalchemy import select

        from mailer.delivery.models import DkimKey
        from mailer.delivery.dkim import dns_txt_lines

        keys = db.session.execute(select(DkimKey).where(DkimKey.domain == domain.lower())).scalars().all()
        if not keys:
            raise click.ClickException(f"No DKIM key for {domain}; create one with `dkim keygen`.")
        for key in keys:
            click.echo(f"; {'active' if key.active else 'retired'} key, created {key.created_at:%Y-%m-%d}")
            click.echo(dns_txt_lines(key))

    @app.cli.command("recover-deliveries")
    @click.option(
        "--after", type=int, default=None, help="Seconds in 'sending' before a delivery counts as stuck."
    )
    def recover_deliveries(after: int | None) -> None:
        """Mark deliveries left in 'sending' by a dead worker as uncertain and re-queue stalled campaigns."""
        from mailer.campaigns.lifecycle import recover_stuck

        report = recover_stuck(after)
        click.echo(
            f"{report['uncertain']} deliveries marked uncertain; "
            f"{len(report['requeued_campaigns'])} stalled campaigns re-queued."
        )


def init_privacy_commands(app: Flask) -> None:
    """Data-subject rights, retention and key rotation (issue 5); each right is recorded in the register."""
    from mailer.consent.ledger import RequestContext

    cli_ctx = RequestContext("cli:operator")

    def contact_or_fail(email: str):
        from mailer.contacts.operations import AddressError, find_contact_by_email, normalise_email

        try:
            contact = find_contact_by_email(normalise_email(email))
        except AddressError as exc:
            raise click.ClickException(str(exc)) from None
        if contact is None or contact.status == ContactStatus.ERASED:
            raise click.ClickException("No contact with that address: no personal data is held about it.")
        return contact

    @app.cli.group("privacy")
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
        """Write everything held about a person to a ZIP (sensitive fields masked: staff never see them in clear)."""
        from mailer import audit
        from mailer.privacy import export, requests

        contact = contact_or_fail(email)
        payload = export.build_zip(contact, clear_sensitive=False)
        with open(out_path, "wb") as handle:
            handle.write(payload)
        req = requests.record_operator_request(
            "access", contact, "cli", "Exported by an operator (CLI).", method="operator (CLI)"
        )
        audit.record("contact.export", "contact", contact.public_id, {"request": req.public_id, "via": "cli"})
        db.session.commit()
        click.echo(
            f"Wrote {len(payload)} bytes to {out_path}; request {req.public_id} recorded in the register."
        )

    @privacy.command("erase")
    @click.argument("email")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    def privacy_erase(email: str, yes: bool) -> None:
        """Erase a person by anonymisation (cannot be undone)."""
        from mailer import audit
        from mailer.privacy import requests
        from mailer.privacy.erasure import erase_contact

        contact = contact_or_fail(email)
        if not yes:
            click.confirm(f"Erase {email} for good?", abort=True)
        req = requests.open_request("erasure", "cli", contact=contact)
        requests.mark_verified(req, "operator (CLI)")
        erase_contact(contact, cli_ctx, request=req)
        requests.complete(req, "Erased by anonymisation (CLI).")
        audit.record("contact.erase", "contact", contact.public_id, {"request": req.public_id, "via": "cli"})
        db.session.commit()
        click.echo(f"Erased; request {req.public_id} recorded in the register.")

    def _restriction(email: str, lift: bool) -> None:
        from mailer.core.errors import PrivacyError
        from mailer import audit
        from mailer.privacy import requests
        from mailer.privacy.restriction import lift_restriction, restrict

        contact = contact_or_fail(email)
        req = requests.open_request(
            "restriction", "cli", contact=contact, details={"action": "lift"} if lift else {}
        )
        requests.mark_verified(req, "operator (CLI)")
        try:
            (lift_restriction if lift else restrict)(contact, cli_ctx, request=req)
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

    @app.cli.group("retention")
    def retention_group() -> None:
        """Storage limitation: lifetimes per data category."""

    @retention_group.command("run")
    @click.option("--dry-run", is_flag=True, help="Only report what would go, and why.")
    def retention_run(dry_run: bool) -> None:
        """Apply every retention lifetime now."""
        from mailer.privacy.retention import run_retention

        report = run_retention(dry_run=dry_run)
        for item in report.items:
            click.echo(
                f"{'would remove' if dry_run else 'removed'} {item.count:>6} {item.category}: {item.reason}"
            )
        click.echo(f"{'Dry run' if dry_run else 'Done'}: {report.total} in total.")

    @app.cli.group("keys")
    def keys_group() -> None:
        """Encryption keys of sensitive fields."""

    @keys_group.command("reencrypt")
    def keys_reencrypt() -> None:
        """Re-wrap contact data keys, DKIM private keys and staff TOTP secrets under the newest MAILER_DATA_KEYS key."""
        from mailer.delivery import dkim_keys
        from mailer.staff import second_factor
        from mailer.core.errors import PrivacyError
        from mailer import audit
        from mailer.contacts import keys

        try:
            count = keys.rewrap_all()
            dkim_count = dkim_keys.reseal_all()
            totp_count = second_factor.reseal_totp_secrets()
        except (PrivacyError, dkim_keys.DkimKeyError, second_factor.SecondFactorError) as exc:
            raise click.ClickException(str(exc)) from None
        audit.record(
            "keys.reencrypt",
            "keys",
            "",
            {"contact_keys": count, "dkim_keys": dkim_count, "totp_secrets": totp_count},
        )
        db.session.commit()
        click.echo(
            f"Re-encrypted {count} contact keys, {dkim_count} DKIM keys and {totp_count} authenticator "
            "secrets under the newest master key; older keys can be retired."
        )
