"""Operator commands for bounces, complaints and deliverability: `flask --app wsgi bounces …` and `doctor`."""

import signal
import smtplib
import threading
from typing import BinaryIO

import click
from flask import current_app
from flask.cli import AppGroup, ScriptInfo, pass_script_info, with_appcontext
from sqlalchemy import text

from mailer.core.extensions import db
from mailer.deliverability.bounces import purge_bounce_log
from mailer.deliverability.inbound import ReportRefusedError, process_report
from mailer.deliverability.listener import InboundServer
from mailer.deliverability.mailbox import MailboxError, poll_mailbox
from mailer.deliverability.readiness import readiness
from mailer.delivery.replies import bounce_base
from mailer.delivery.transport import SmtpSettings

MARKS = {"ok": "[ok]     ", "warn": "[warn]   ", "fail": "[FAIL]   ", "unknown": "[unknown]"}


@click.group("bounces", cls=AppGroup)
def bounces() -> None:
    """Inbound bounces and spam complaints."""


@bounces.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=2526, show_default=True, type=int)
@pass_script_info
def bounces_serve(info: ScriptInfo, host: str, port: int) -> None:
    """Listen for bounces and feedback reports over SMTP (route the bounce domain's mail here)."""
    server = InboundServer(info.load_app(), host, port)
    server.start()
    click.echo(f"Taking bounces for {'+<tag>@'.join(bounce_base())} on {host}:{port}; Ctrl+C to stop.")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # a service manager's stop finishes the session
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        click.echo("Stopped.")


@bounces.command("process")
@click.argument("message_file", type=click.File("rb"))
@click.option("--rcpt", multiple=True, help="Envelope recipient(s) the message was delivered to (VERP).")
def bounces_process(message_file: BinaryIO, rcpt: tuple[str, ...]) -> None:
    """Process one saved bounce or feedback report (RFC 822 file, '-' for stdin)."""
    limit = current_app.config["BOUNCE_MAX_REPORT_BYTES"]
    raw = message_file.read(limit + 1)
    try:
        result = process_report(raw, rcpt)
    except ReportRefusedError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{result.status}: {result.detail}")


@bounces.command("poll")
@click.option(
    "--limit", type=click.IntRange(min=1), help="Take at most this many messages (default BOUNCE_IMAP_BATCH)."
)
def bounces_poll(limit: int | None) -> None:
    """Read the bounce mailbox (BOUNCE_IMAP_URL) once: act on each report, then move it out of the folder."""
    try:
        result = poll_mailbox(limit=limit)
    except MailboxError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(result.summary())
    if result.failed:
        raise SystemExit(1)


@bounces.command("purge")
@click.option("--dry-run", is_flag=True, help="Only report how many entries would go.")
def bounces_purge(dry_run: bool) -> None:
    """Delete bounce/complaint log entries older than BOUNCE_LOG_RETENTION_DAYS."""
    count = purge_bounce_log(dry_run=dry_run)
    click.echo(f"{'Would delete' if dry_run else 'Deleted'} {count} bounce log entries.")


@click.command("doctor")
@click.option("--refresh/--cached", default=True, help="Ask DNS again (default) or reuse a recent answer.")
@with_appcontext
def doctor(refresh: bool) -> None:
    """Check the database, broker, SMTP relay and the sending domains' DNS records; exit 1 if anything
    fails."""
    failed = False
    for name, status, detail in (_database(), _broker(), _smtp()):
        failed |= status == "fail"
        click.echo(f"{MARKS[status]} {name}: {detail}")
    failed |= _print_readiness(refresh)
    if failed:
        raise SystemExit(1)


def _database() -> tuple[str, str, str]:
    """Whether the database answers, and its schema revision."""
    try:
        db.session.execute(text("SELECT 1"))
        revision = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
        db.session.rollback()
    except Exception as exc:  # any failure is the answer
        db.session.rollback()
        return (
            "Database",
            "fail",
            f"{db.engine.url.get_backend_name()} does not answer: {exc.__class__.__name__}",
        )
    return (
        "Database",
        "ok",
        f"{db.engine.url.get_backend_name()} answers; schema revision {revision or 'none'}",
    )


def _broker() -> tuple[str, str, str]:
    """Whether the broker answers (Redis), or that the in-memory one is in use."""
    broker = current_app.extensions["mailer.workers"].broker
    client = getattr(broker, "client", None)
    if client is None:
        return "Broker", "ok", "in-memory broker with in-process workers (embedded mode)"
    try:
        client.ping()
    except Exception as exc:  # any failure is the answer
        return "Broker", "fail", f"Redis does not answer: {exc.__class__.__name__}: {exc}"
    return "Broker", "ok", "Redis answers"


def _smtp() -> tuple[str, str, str]:
    """Whether the relay answers and accepts our login, or that mail goes to the local outbox."""
    url = current_app.config.get("SMTP_URL") or ""
    if not url:
        return "SMTP relay", "ok", "none configured: mail goes to the local outbox (embedded mode)"
    s = SmtpSettings(url, timeout=min(float(current_app.config["SMTP_TIMEOUT"]), 10.0))
    where = f"{s.host}:{s.port}"
    try:
        conn = (
            smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=s.tls_context())
            if s.implicit_tls
            else smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        )
        with conn:
            if s.starttls and not s.implicit_tls:
                conn.starttls(context=s.tls_context())
            if s.username:
                conn.login(s.username, s.password or "")
            code, _ = conn.noop()
    except (OSError, smtplib.SMTPException) as exc:
        return "SMTP relay", "fail", f"{where} unreachable or refused: {exc.__class__.__name__}: {exc}"
    return "SMTP relay", "ok", f"{where} answers ({code}){' and accepted our login' if s.username else ''}"


def _print_readiness(refresh: bool) -> bool:
    """Print the DNS checks and the records to publish; True when a check failed."""
    report = readiness(refresh=refresh)
    if report.dns_error:
        click.echo(f"{MARKS['unknown']} DNS: {report.dns_error}. Publish these records:")
    else:
        click.echo(f"{MARKS['ok']} DNS: answering")
    failed = False
    for domain in report.domains:
        click.echo(f"\nSending domain {domain.domain}")
        for check in domain.checks:
            failed |= check.status == "fail"
            click.echo(f"  {MARKS[check.status]} {check.name}: {check.detail}")
            if check.record is not None:
                click.echo(f"      {check.record.zone_line}")
            if check.hint and check.status != "ok":
                click.echo(f"      {check.hint}")
    return failed
