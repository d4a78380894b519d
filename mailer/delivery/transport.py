"""The only module that talks SMTP: persistent, per-thread connections with TLS, auth and timeouts.

Campaign batches go through a Pipeline: with RFC 2920 PIPELINING each message's content, its end-of-data dot
and the next message's MAIL, RCPT and DATA leave in one write, so a message costs one round trip, not two.
In embedded mode (no SMTP_URL) the OutboxTransport stores each message instead, for the admin to show.
"""

import contextlib
import email.policy
import re
import smtplib
import socket
import ssl
import threading
from collections.abc import Hashable
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app
from sqlalchemy.orm import Session

from mailer.core.extensions import db
from mailer.delivery.models import Category, OutboxMessage
from mailer.delivery.throttles import check_limit_settings

_BARE_LINE_END = re.compile(rb"\r\n|\n|\r(?!\n)")  # what smtplib's data() normalises to CRLF
_PLAIN_ADDRESS = re.compile(r"[^\s<>()\[\]\\,;:\"@]+@[^\s<>()\[\]\\,;:\"@]+")


def _path(address: str) -> str:
    """<address> for MAIL FROM / RCPT TO; the email parser only for unusual addresses (it costs ~40 µs)."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


class NoReply(smtplib.SMTPServerDisconnected):
    """The content went to the relay but its answer never came: it may have been delivered (not retried)."""


@dataclass(frozen=True)
class SmtpReply:
    """The server's final answer to a message."""

    code: int
    text: str
    relay: str = ""  # the named relay that gave it, when the campaign sends through one (failover.py)


class SmtpSettings:
    """Connection settings parsed from SMTP_URL, e.g. smtp://user:pass@host:587?starttls=1."""

    def __init__(self, url: str, timeout: float = 30):
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("SMTP_URL must start with smtp:// or smtps://")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = query.get("starttls", "0").lower() in ("1", "true", "yes")
        self.verify = query.get("verify", "1").lower() not in ("0", "false", "no")
        self.local_hostname = query.get("helo") or None
        self.timeout = float(query.get("timeout", timeout))

    def tls_context(self) -> ssl.SSLContext:
        """Certificate-verifying TLS unless verify=0 was asked for (e.g. a relay with a private CA)."""
        context = ssl.create_default_context()
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


class SMTPTransport:
    """Sends raw messages over one persistent connection per thread, reconnecting when the server hangs up."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._local = threading.local()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        conn: smtplib.SMTP
        if s.implicit_tls:
            conn = smtplib.SMTP_SSL(
                s.host, s.port, local_hostname=s.local_hostname, timeout=s.timeout, context=s.tls_context()
            )
        else:
            conn = smtplib.SMTP(s.host, s.port, local_hostname=s.local_hostname, timeout=s.timeout)
            if s.starttls:
                conn.starttls(context=s.tls_context())
                conn.ehlo()
        if s.username:
            conn.login(s.username, s.password or "")
        # Without TCP_NODELAY the tail of each DATA waits for the peer's delayed ACK: ~40 ms a message.
        if conn.sock is not None:  # connected by now; smtplib types it optional
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _connection(self) -> smtplib.SMTP:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def send(self, mail_from: str, rcpt_to: list[str], raw: bytes, **_metadata) -> SmtpReply:
        """Send one message; raises smtplib exceptions with the server's code for the caller to classify."""
        for attempt in (1, 2):
            conn = self._connection()
            try:
                return self._transaction(conn, mail_from, rcpt_to, raw)
            except NoReply:
                self.close()
                raise
            except (smtplib.SMTPServerDisconnected, ConnectionError, OSError) as exc:
                if isinstance(exc, smtplib.SMTPResponseException):
                    raise
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _transaction(conn: smtplib.SMTP, mail_from: str, rcpt_to: list[str], raw: bytes) -> SmtpReply:
        """MAIL, RCPT, DATA on an open connection, resetting it after a refusal so it can be reused."""
        try:
            conn.ehlo_or_helo_if_needed()
            if len(rcpt_to) == 1 and conn.has_extn("pipelining") and (mail_from + rcpt_to[0]).isascii():
                return SMTPTransport._pipelined(conn, mail_from, rcpt_to[0], raw)
            code, text = conn.mail(mail_from)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, text, mail_from)
            for rcpt in rcpt_to:
                code, text = conn.rcpt(rcpt)
                if code not in (250, 251):
                    raise smtplib.SMTPRecipientsRefused({rcpt: (code, text)})
            code, text = conn.docmd("data")
            if code != 354:
                raise smtplib.SMTPDataError(code, text)
            reply = _content_reply(conn, _dot_stuffed(_BARE_LINE_END.sub(b"\r\n", raw)) + b".\r\n")
            if isinstance(reply, Exception):
                raise reply
            return reply
        except (smtplib.SMTPSenderRefused, smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError):
            with contextlib.suppress(smtplib.SMTPException):
                conn.rset()
            raise

    @staticmethod
    def _pipelined(conn: smtplib.SMTP, mail_from: str, rcpt: str, raw: bytes) -> SmtpReply:
        """RFC 2920: MAIL, RCPT and DATA in one write, then the message: two round trips instead of four."""
        conn.send(_envelope(mail_from, rcpt))
        Pipeline._envelope_replies(conn, mail_from, rcpt)
        reply = _content_reply(conn, _dot_stuffed(raw) + b".\r\n")
        if isinstance(reply, Exception):
            raise reply
        return reply

    def pipeline(self) -> "Pipeline":
        """A batch of messages over this thread's connection, pipelined across messages if the server
        allows."""
        return Pipeline(self)

    def close(self) -> None:
        """Close this thread's connection, if any."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()


def _reset(transport: SMTPTransport, conn: smtplib.SMTP) -> None:
    """RSET after a refused envelope, so the connection takes the next message; close it if that fails."""
    try:
        conn.rset()
    except (smtplib.SMTPException, OSError):
        transport.close()


def _content_reply(conn: smtplib.SMTP, payload: bytes):
    """Send a message's content and read its answer; a broken connection from here on is NoReply."""
    try:
        conn.send(payload)
        return Pipeline._final(conn)
    except smtplib.SMTPResponseException:
        raise
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        raise NoReply(f"no answer after the message's content: {exc}") from exc


def _envelope(mail_from: str, rcpt: str) -> bytes:
    return f"MAIL FROM:{_path(mail_from)}\r\nRCPT TO:{_path(rcpt)}\r\nDATA\r\n".encode()


def _reply_text(text) -> str:
    return text.decode(errors="replace") if isinstance(text, bytes) else str(text)


class Pipeline:
    """Sends a batch of messages, each to one recipient, and reports every outcome exactly once.

    submit() returns the outcomes that became known (key, SmtpReply or the smtplib/OS exception, as send()
    would raise it); finish() returns the rest. With PIPELINING the content of message k goes out together
    with the envelope of message k+1, so k's final answer arrives in the same round trip as k+1's 354.
    Without it (or for non-ASCII addresses) each message is an ordinary send().
    """

    def __init__(self, transport: SMTPTransport):
        self.transport = transport
        self.open: tuple[Hashable, bytes, smtplib.SMTP, bool] | None = (
            None  # (key, raw, conn, dot_safe): envelope accepted with 354, content not yet sent
        )

    def submit(
        self,
        key: Hashable,
        mail_from: str,
        rcpt: str,
        raw: bytes,
        dot_safe: bool = False,
        _retry: bool = True,
    ) -> list[tuple]:
        """Queue one message; returns the outcomes now known (this message's, or the one before it).

        dot_safe: the caller knows no line of raw starts with a dot, so the content needs no dot-stuffing
        scan.
        """
        done: list[tuple] = []
        try:
            conn = self.transport._connection()
            conn.ehlo_or_helo_if_needed()
            streamable = conn.has_extn("pipelining") and (mail_from + rcpt).isascii()
        except (smtplib.SMTPException, OSError) as exc:
            self.transport.close()
            return [*self.finish(exc), (key, exc)]
        if not streamable:
            done += self.finish()
            try:
                done.append((key, self.transport.send(mail_from, [rcpt], raw)))
            except (smtplib.SMTPException, OSError) as exc:
                done.append((key, exc))
            return done
        if self.open is not None and self.open[2] is not conn:
            done += self.finish()
        previous, self.open = self.open, None
        head = _dot_stuffed(previous[1], previous[3]) + b".\r\n" if previous is not None else b""
        try:
            conn.send(head + _envelope(mail_from, rcpt))
            if previous is not None:
                done.append((previous[0], self._final(conn)))
                previous = None
            self._envelope_replies(conn, mail_from, rcpt)
        except (smtplib.SMTPSenderRefused, smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
            _reset(self.transport, conn)
            done.append((key, exc))
        except (smtplib.SMTPException, OSError) as exc:  # the connection failed
            self.transport.close()
            if previous is not None:  # its content may have arrived: never retried
                done.append((previous[0], NoReply(f"no answer after the message's content: {exc}")))
            if _retry:  # this message was not accepted yet: once more on a fresh connection
                done += self.submit(key, mail_from, rcpt, raw, dot_safe, _retry=False)
            else:
                done.append((key, exc))
        else:
            self.open = (key, raw, conn, dot_safe)
        return done

    def finish(self, error: Exception | None = None) -> list[tuple]:
        """Send the last accepted message's content and report it (or report `error` for it)."""
        previous, self.open = self.open, None
        if previous is None:
            return []
        if error is not None:
            return [(previous[0], error)]
        key, raw, conn, dot_safe = previous
        try:
            return [(key, _content_reply(conn, _dot_stuffed(raw, dot_safe) + b".\r\n"))]
        except NoReply as exc:
            self.transport.close()
            return [(key, exc)]

    @staticmethod
    def _final(conn: smtplib.SMTP):
        """The answer to a message's content: a reply, or the SMTPDataError send() would raise."""
        code, text = conn.getreply()
        if code != 250:
            return smtplib.SMTPDataError(code, text)
        return SmtpReply(code, _reply_text(text))

    @staticmethod
    def _envelope_replies(conn: smtplib.SMTP, mail_from: str, rcpt: str) -> None:
        """Read MAIL, RCPT and DATA's answers; raise as send() would when the message cannot go."""
        mail_reply, rcpt_reply, data_reply = conn.getreply(), conn.getreply(), conn.getreply()
        refused = mail_reply[0] != 250 or rcpt_reply[0] not in (250, 251)
        if data_reply[0] == 354 and refused:
            conn.send(
                b".\r\n"
            )  # a server that opened DATA regardless gets an empty message it cannot deliver
            conn.getreply()
        if mail_reply[0] != 250:
            raise smtplib.SMTPSenderRefused(mail_reply[0], mail_reply[1], mail_from)
        if rcpt_reply[0] not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({rcpt: rcpt_reply})
        if data_reply[0] != 354:
            raise smtplib.SMTPDataError(*data_reply)


class SingleSends:
    """The Pipeline interface of the local outbox: campaign messages stored one at a time, listed as
    marketing mail under their own subject and Message-ID (read back from the message's headers)."""

    def __init__(self, transport):
        self.transport = transport

    def submit(
        self, key: Hashable, mail_from: str, rcpt: str, raw: bytes, dot_safe: bool = False
    ) -> list[tuple]:
        headers = BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
        try:
            return [
                (
                    key,
                    self.transport.send(
                        mail_from,
                        [rcpt],
                        raw,
                        subject=str(headers["Subject"] or ""),
                        message_id=str(headers["Message-ID"] or ""),
                        category=Category.MARKETING,
                    ),
                )
            ]
        except (smtplib.SMTPException, OSError) as exc:
            return [(key, exc)]

    @staticmethod
    def finish(error: Exception | None = None) -> list[tuple]:
        return []


def _dot_stuffed(raw: bytes, dot_safe: bool = False) -> bytes:
    """The DATA payload (raw has CRLF line ends): a leading dot doubled (RFC 5321 4.5.2), ending in CRLF."""
    if dot_safe:
        return raw if raw.endswith(b"\r\n") else raw + b"\r\n"
    if raw.startswith(b"."):
        raw = b"." + raw
    if b"\n." in raw:
        raw = raw.replace(b"\n.", b"\n..")
    return raw if raw.endswith(b"\r\n") else raw + b"\r\n"


class OutboxTransport:
    """Embedded mode: keep every message in the database instead of sending it."""

    def __init__(self, engine):
        self.engine = engine

    def send(
        self,
        mail_from: str,
        rcpt_to: list[str],
        raw: bytes,
        *,
        subject: str = "",
        message_id: str = "",
        category: str = Category.TRANSACTIONAL,
    ) -> SmtpReply:
        """Store the message in its own transaction, independent of the caller's session."""
        with Session(self.engine) as session:
            session.add(
                OutboxMessage(
                    mail_from=mail_from,
                    rcpt_to=", ".join(rcpt_to),
                    raw=raw,
                    subject=subject[:998],
                    message_id=message_id[:250],
                    category=category,
                )
            )
            session.commit()
        return SmtpReply(250, "stored in the local outbox")

    def pipeline(self) -> SingleSends:
        """One message at a time (the outbox has no round trips to save)."""
        return SingleSends(self)

    def close(self) -> None:
        """Nothing to close."""


def init_app(app) -> None:
    """Choose the transport for this app from SMTP_URL (and refuse to start on unreadable sending limits)."""
    check_limit_settings(app.config)
    if app.config["SMTP_URL"]:
        app.extensions["mailer.transport"] = SMTPTransport(
            SmtpSettings(app.config["SMTP_URL"], app.config["SMTP_TIMEOUT"])
        )
    else:
        app.extensions["mailer.transport"] = None  # built lazily: the engine needs an app context


def get_transport():
    """The app's transport (SMTP, or the local outbox in embedded mode)."""
    transport = current_app.extensions.get("mailer.transport")
    if transport is None:
        transport = current_app.extensions["mailer.transport"] = OutboxTransport(db.engine)
    return transport
