"""The bounce mailbox over IMAP (issue 17): a real Dovecot on loopback holds the reports a relay delivered;
the poller (`flask bounces poll` and the scheduled job) acts on each once through the listener's own door,
then moves it out of the folder, never deleting anything, and never without TLS."""

import socket
import threading

import pytest
from sqlalchemy import func, select

import mailer
from mailer import create_app
from mailer.core.extensions import db
from mailer.deliverability import mailbox
from mailer.deliverability.models import MailboxMessage
from mailer.scheduler import build_scheduler
from tests.deliverability.bounce_support import (
    events,
    report,
    send_campaign,
    subscribers,
    suppression_reason,
)
from tests.support.dovecot import start_dovecot
from tests.support.proxy import app_config_from_environment

FBL = "fbl@example.com"
pytestmark = pytest.mark.config(MAILER_COMPLAINTS_ADDRESS=FBL)


@pytest.fixture
def dovecot():
    yield from start_dovecot()


@pytest.fixture
def polled(app, dovecot):
    """The app pointed at the Dovecot mailbox (what BOUNCE_IMAP_URL and BOUNCE_IMAP_CA_FILE set)."""
    app.config.update(BOUNCE_IMAP_URL=dovecot.url(), BOUNCE_IMAP_CA_FILE=dovecot.ca_file)
    return dovecot


def _records() -> list[MailboxMessage]:
    db.session.expire_all()
    return list(db.session.execute(select(MailboxMessage).order_by(MailboxMessage.id)).scalars())


def test_a_hard_bounce_delivered_to_the_mailbox_suppresses_the_address(app, runner, news, worker, polled):
    ann, bob = subscribers(news, "ann@example.net", "bob@example.net")
    _, sent = send_campaign(worker, news)
    dsn = report("postfix_hard_5.1.1.eml", sent[ann.email])
    polled.deliver(dsn)

    result = runner.invoke(args=["bounces", "poll"])

    assert result.exit_code == 0, result.output
    assert "1 message(s) (1 recorded); 1 moved" in result.output
    assert suppression_reason(ann) == "hard_bounce" and suppression_reason(bob) is None
    [event] = events()
    assert (event.kind, event.status_code) == ("hard", "5.1.1")
    # Moved out of the inbox, whole, into the processed folder.
    assert polled.folder("INBOX") == [] and polled.folder("Processed") == [dsn]
    [record] = _records()
    assert (record.outcome, record.moved_to) == ("recorded", "Processed") and record.moved_at is not None
    # The next poll finds nothing to do.
    again = runner.invoke(args=["bounces", "poll"])
    assert "0 message(s); 0 moved" in again.output and len(events()) == 1


def test_a_complaint_delivered_to_the_mailbox_suppresses_and_withdraws(app, runner, news, worker, polled):
    (ann,) = subscribers(news, "ann@example.net")
    _, sent = send_campaign(worker, news)
    polled.deliver(report("yahoo_arf_abuse.eml", sent[ann.email], to=FBL))

    result = runner.invoke(args=["bounces", "poll"])

    assert result.exit_code == 0 and "(1 recorded)" in result.output
    assert suppression_reason(ann) == "complaint"
    assert [(e.kind, e.source) for e in events()] == [("complaint", "arf")]
    assert len(polled.folder("Processed")) == 1 and polled.folder("INBOX") == []


def test_mail_that_is_not_a_report_is_moved_aside_unchanged_never_deleted(app, runner, news, worker, polled):
    (ann,) = subscribers(news, "ann@example.net")
    _, sent = send_campaign(worker, news)
    autoreply = report("vacation_autoreply.eml", sent[ann.email])
    letter = (
        b"From: Someone <someone@example.org>\r\nTo: bounces@example.com\r\nSubject: Hello\r\n"
        b"Message-ID: <hello-1@example.org>\r\n\r\nIs anybody there?\r\n"
    )
    stranger = report(
        "postfix_hard_5.1.1.eml", verp="bounces@example.com", message_id="<x@elsewhere.example>"
    )
    for raw in (autoreply, letter, stranger):
        polled.deliver(raw)

    result = runner.invoke(args=["bounces", "poll"])

    assert result.exit_code == 0, result.output
    assert "3 message(s) (2 ignored, 1 unmatched); 3 moved" in result.output
    assert sorted(polled.folder("Not reports")) == sorted([autoreply, letter, stranger])
    assert polled.folder("INBOX") == [] and polled.folder("Processed") == []
    assert events() == [] and suppression_reason(ann) is None


class Killed(BaseException):
    """What the poller's process being killed looks like to the code after that point: nothing more runs."""


def test_a_poller_killed_between_processing_and_moving_counts_the_report_once(
    app, runner, news, worker, polled, monkeypatch
):
    ann, bob = subscribers(news, "ann@example.net", "bob@example.net")
    _, sent = send_campaign(worker, news)
    polled.deliver(report("exchange_mailbox_full_5.2.2.eml", sent[ann.email]))
    polled.deliver(report("exchange_mailbox_full_5.2.2.eml", sent[bob.email]))

    def killed(*_args):
        raise Killed()

    with monkeypatch.context() as patch:
        patch.setattr(mailbox, "move", killed)
        with app.app_context(), pytest.raises(Killed):
            mailbox.poll_mailbox()

    # Ann's report was acted on (and its record committed with it); it is still in the folder.
    assert [e.contact_id for e in events()] == [ann.id]
    assert len(polled.folder("INBOX")) == 2 and polled.folder("Processed") == []

    result = runner.invoke(args=["bounces", "poll"])

    assert result.exit_code == 0, result.output
    assert "1 message(s) (1 recorded); 2 moved; 1 already processed by an earlier poll" in result.output
    assert sorted(e.contact_id for e in events()) == [ann.id, bob.id]  # Ann's soft bounce counted once
    assert [e.action_taken for e in events()] == ["counted", "counted"]
    assert polled.folder("INBOX") == [] and len(polled.folder("Processed")) == 2


def test_a_second_copy_of_a_report_is_not_read_again(app, runner, news, worker, polled):
    (ann,) = subscribers(news, "ann@example.net")
    _, sent = send_campaign(worker, news)
    raw = report("exchange_mailbox_full_5.2.2.eml", sent[ann.email])
    polled.deliver(raw)
    runner.invoke(args=["bounces", "poll"])
    polled.deliver(raw)  # the relay delivered it twice

    result = runner.invoke(args=["bounces", "poll"])

    assert "1 message(s) (1 copy); 1 moved" in result.output
    assert len(events()) == 1 and polled.folder("Processed") == [raw, raw]


def test_starttls_is_used_on_the_plain_port(app, runner, news, worker, polled):
    (ann,) = subscribers(news, "ann@example.net")
    _, sent = send_campaign(worker, news)
    polled.deliver(report("postfix_hard_5.1.1.eml", sent[ann.email]))
    app.config["BOUNCE_IMAP_URL"] = polled.url(implicit_tls=False)

    result = runner.invoke(args=["bounces", "poll"])

    assert result.exit_code == 0 and "(1 recorded)" in result.output
    # Two logins by now (the test's delivery over imaps, the poller's over STARTTLS): both under TLS.
    log = polled.wait_for_log(lambda lines: sum("Login: user=<bounces>" in line for line in lines) >= 2)
    logins = [line for line in log if "Login: user=<bounces>" in line]
    assert all(", TLS," in line for line in logins) and not any("secured" in line for line in logins)


def test_tls_is_required_and_verified(app, runner, news, worker, polled):
    (ann,) = subscribers(news, "ann@example.net")
    _, sent = send_campaign(worker, news)
    polled.deliver(report("postfix_hard_5.1.1.eml", sent[ann.email]))

    app.config["BOUNCE_IMAP_CA_FILE"] = ""  # the server's certificate is from a CA nobody trusts
    untrusted = runner.invoke(args=["bounces", "poll"])
    app.config.update(BOUNCE_IMAP_CA_FILE=polled.ca_file, BOUNCE_IMAP_URL=polled.url(password="wrong"))
    refused = runner.invoke(args=["bounces", "poll"])
    app.config["BOUNCE_IMAP_URL"] = polled.url().replace("imaps://", "pop3://")
    unknown = runner.invoke(args=["bounces", "poll"])

    # Refused in the TLS handshake, before a login could be sent.
    assert untrusted.exit_code == 1 and "TLS with 127.0.0.1" in untrusted.output
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.output
    assert refused.exit_code == 1 and "refused the login" in refused.output
    assert unknown.exit_code == 1 and "must start with imaps://" in unknown.output
    assert len(polled.folder("INBOX")) == 1 and suppression_reason(ann) is None


def test_a_server_without_starttls_never_gets_the_password(app, runner):
    """A plain IMAP greeting that offers no STARTTLS (a one-line stand-in for such a server): refused."""
    server = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def answer():
        conn, _ = server.accept()
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"* OK ready\r\n")
            for line in lines:  # until the client hangs up
                received.append(line)
                tag = line.split(b" ", 1)[0]
                if b"CAPABILITY" in line.upper():
                    conn.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
                else:
                    conn.sendall(tag + b" OK done\r\n")

    thread = threading.Thread(target=answer)
    thread.start()
    app.config["BOUNCE_IMAP_URL"] = f"imap://bounces:secret@127.0.0.1:{server.getsockname()[1]}"
    result = runner.invoke(args=["bounces", "poll"])
    thread.join(timeout=30)
    server.close()

    assert result.exit_code == 1 and "does not offer STARTTLS" in result.output
    assert b"secret" not in b"".join(received)


def test_the_scheduled_job_polls_the_mailbox(app, news, worker, polled):
    (ann,) = subscribers(news, "ann@example.net")
    _, sent = send_campaign(worker, news)
    polled.deliver(report("postfix_hard_5.1.1.eml", sent[ann.email]))
    jobs = {job.id: job for job in build_scheduler(app).get_jobs()}
    assert jobs["poll_bounce_mailbox"].trigger.interval.total_seconds() == 60

    app.extensions["mailer.workers"].actors["poll_bounce_mailbox"].send()
    worker.drain()

    assert suppression_reason(ann) == "hard_bounce" and polled.folder("INBOX") == []
    assert db.session.execute(select(func.count()).select_from(MailboxMessage)).scalar() == 1


def test_no_mailbox_no_job(app):
    assert "poll_bounce_mailbox" not in {job.id for job in build_scheduler(app).get_jobs()}


def test_mailbox_settings_come_from_the_environment(monkeypatch, database_url):
    app_config_from_environment(
        monkeypatch,
        BOUNCE_IMAP_URL="imap://bounce%40example.com:p%3Ass@imap.example.com",
        BOUNCE_IMAP_FOLDER="Bounces",
        BOUNCE_IMAP_PROCESSED_FOLDER="Bounces/Done",
        BOUNCE_IMAP_IGNORED_FOLDER="Bounces/Other",
        BOUNCE_IMAP_CA_FILE="/etc/ssl/private-ca.pem",
        BOUNCE_IMAP_POLL_SECONDS="120",
        BOUNCE_IMAP_BATCH="50",
        BOUNCE_IMAP_TIMEOUT="10",
    )
    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": database_url})
    settings = mailbox.MailboxSettings.from_config(app.config)
    assert (settings.host, settings.port, settings.username, settings.password) == (
        "imap.example.com",
        143,
        "bounce@example.com",
        "p:ss",
    )
    assert not settings.implicit_tls  # STARTTLS, which the poller insists on
    assert (settings.folder, settings.processed_folder, settings.ignored_folder) == (
        "Bounces",
        "Bounces/Done",
        "Bounces/Other",
    )
    assert (settings.ca_file, settings.timeout, app.config["BOUNCE_IMAP_BATCH"]) == (
        "/etc/ssl/private-ca.pem",
        10.0,
        50,
    )
    jobs = {job.id: job for job in build_scheduler(app).get_jobs()}
    assert jobs["poll_bounce_mailbox"].trigger.interval.total_seconds() == 120
    app.extensions["mailer.workers"].broker.close()
    assert mailer.CONFIGS["production"].BOUNCE_IMAP_FOLDER == "Bounces"


def test_a_connection_lost_while_moving_is_a_clear_error_and_nothing_is_lost(
    app, runner, news, worker, polled, monkeypatch
):
    (ann,) = subscribers(news, "ann@example.net")
    _, sent = send_campaign(worker, news)
    polled.deliver(report("postfix_hard_5.1.1.eml", sent[ann.email]))

    def connection_lost(*_args):
        raise mailbox.imaplib.IMAP4.abort("socket error: EOF")

    with monkeypatch.context() as patch:
        patch.setattr(mailbox, "move", connection_lost)
        broken = runner.invoke(args=["bounces", "poll"])
    again = runner.invoke(args=["bounces", "poll"])

    assert broken.exit_code == 1 and "the connection to 127.0.0.1" in broken.output
    assert "broke after 0 message(s) were moved (socket error: EOF)" in broken.output
    assert "Traceback" not in broken.output
    assert "0 message(s); 1 moved; 1 already processed by an earlier poll" in again.output
    assert suppression_reason(ann) == "hard_bounce" and len(events()) == 1
    assert polled.folder("INBOX") == [] and len(polled.folder("Processed")) == 1
