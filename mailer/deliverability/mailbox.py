"""The bounce mailbox: reports a relay delivers to a mailbox instead of our SMTP listener, read over IMAP.

`flask --app wsgi bounces poll` and the scheduler's poll_bounce_mailbox job take every message in
BOUNCE_IMAP_FOLDER, feed it through the same door as the SMTP listener (inbound.process_inbound: DSNs, ARF
complaints and mailto: unsubscribes), then move it out: to BOUNCE_IMAP_PROCESSED_FOLDER when it was a report
or an unsubscribe about our mail, to BOUNCE_IMAP_IGNORED_FOLDER otherwise (nothing is ever deleted).

Process, then move: a MailboxMessage row (the folder's UIDVALIDITY and the message's UID, and a hash of its
Message-ID) is committed with what the message changed. A poller that dies between the two steps leaves the
message in the folder; the next poll finds the row and only moves it, so nothing is lost and nothing counted
twice. TLS is required: imaps:// (implicit TLS) or imap:// with STARTTLS, the server's certificate verified;
a server that offers neither never sees the password.
"""

import contextlib
import hashlib
import imaplib
import logging
import re
import ssl
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from email import policy
from email.parser import BytesHeaderParser
from urllib.parse import unquote, urlsplit

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.security import keyed_hash
from mailer.deliverability.inbound import ReportRefusedError, process_inbound
from mailer.deliverability.models import MailboxMessage

log = logging.getLogger(__name__)

_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
# What process_inbound answered -> where the message goes: acted on (or already acted on) vs everything else.
PROCESSED = frozenset({"recorded", "duplicate", "unsubscribed", "already"})
# (an unsubscribe address that is forged or expired is "refused": set aside with everything else)


class MailboxError(RuntimeError):
    """The mailbox cannot be polled (not configured, no TLS, refused login, missing folder): one line why."""


@dataclass(frozen=True)
class MailboxSettings:
    """Where the bounce mailbox is and how to reach it: BOUNCE_IMAP_URL and the BOUNCE_IMAP_* settings."""

    host: str
    port: int
    username: str
    password: str
    implicit_tls: bool
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    ignored_folder: str = "Not reports"
    ca_file: str = ""
    timeout: float = 30.0

    @classmethod
    def from_config(cls, config) -> "MailboxSettings":
        url = config.get("BOUNCE_IMAP_URL") or ""
        if not url:
            raise MailboxError("no bounce mailbox configured (BOUNCE_IMAP_URL is empty)")
        parts = urlsplit(url)
        if parts.scheme not in ("imaps", "imap"):
            raise MailboxError(
                "BOUNCE_IMAP_URL must start with imaps:// (TLS) or imap:// (STARTTLS, required)"
            )
        if not parts.hostname or not parts.username:
            raise MailboxError(
                "BOUNCE_IMAP_URL must name the server and the user: imaps://user:password@host"
            )
        implicit = parts.scheme == "imaps"
        return cls(
            host=parts.hostname,
            port=parts.port or (993 if implicit else 143),
            username=unquote(parts.username),
            password=unquote(parts.password or ""),
            implicit_tls=implicit,
            folder=config["BOUNCE_IMAP_FOLDER"],
            processed_folder=config["BOUNCE_IMAP_PROCESSED_FOLDER"],
            ignored_folder=config["BOUNCE_IMAP_IGNORED_FOLDER"],
            ca_file=config.get("BOUNCE_IMAP_CA_FILE") or "",
            timeout=float(config["BOUNCE_IMAP_TIMEOUT"]),
        )

    @property
    def name(self) -> str:
        """How the idempotency records name this folder (no password)."""
        return f"{self.username}@{self.host}:{self.port}/{self.folder}"[:300]

    def tls_context(self) -> ssl.SSLContext:
        """Certificate and host name verified, against the system's CAs plus BOUNCE_IMAP_CA_FILE if set."""
        context = ssl.create_default_context()
        if self.ca_file:
            context.load_verify_locations(cafile=self.ca_file)
        return context


@dataclass
class PollResult:
    """What one poll did: outcomes by kind, how many were moved, how many had been acted on before (a poll
    that stopped between acting and moving) and how many failed and stay for the next poll."""

    mailbox: str
    outcomes: Counter = field(default_factory=Counter)
    moved: int = 0
    resumed: int = 0
    failed: int = 0

    @property
    def taken(self) -> int:
        return sum(self.outcomes.values())

    def summary(self) -> str:
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(self.outcomes.items()))
        line = f"{self.mailbox}: {self.taken} message(s)" + (f" ({kinds})" if kinds else "")
        line += f"; {self.moved} moved"
        if self.resumed:
            line += f"; {self.resumed} already processed by an earlier poll, only moved now"
        if self.failed:
            line += f"; {self.failed} could not be processed and stay in the folder for the next poll"
        return line


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(answer: tuple, what: str) -> list:
    status, data = answer
    if status != "OK":
        detail = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
        raise MailboxError(f"the IMAP server refused to {what}: {detail}"[:300])
    return data


def connect(settings: MailboxSettings) -> imaplib.IMAP4:
    """Log in over TLS (never without it)."""
    context = settings.tls_context()
    conn: imaplib.IMAP4
    try:
        if settings.implicit_tls:
            conn = imaplib.IMAP4_SSL(
                settings.host, settings.port, ssl_context=context, timeout=settings.timeout
            )
        else:
            conn = imaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout)
            if "STARTTLS" not in conn.capabilities:
                conn.shutdown()
                raise MailboxError(
                    f"{settings.host}:{settings.port} does not offer STARTTLS: not logging in without TLS"
                )
            conn.starttls(ssl_context=context)
        conn.login(settings.username, settings.password)
    except ssl.SSLError as exc:
        raise MailboxError(f"TLS with {settings.host}:{settings.port} failed: {exc.reason or exc}") from None
    except imaplib.IMAP4.error as exc:
        raise MailboxError(f"{settings.host}:{settings.port} refused the login: {exc}"[:300]) from None
    except OSError as exc:
        raise MailboxError(f"{settings.host}:{settings.port} unreachable: {exc.__class__.__name__}") from None
    return conn


def _capabilities(conn: imaplib.IMAP4) -> set[str]:
    """After login (servers announce more then, e.g. MOVE and UIDPLUS)."""
    data = _check(conn.capability(), "list its capabilities")
    return {word.upper() for word in b" ".join(data).decode("ascii", "replace").split()}


def _select(conn: imaplib.IMAP4, folder: str) -> int:
    _check(conn.select(_quoted(folder)), f"open the folder {folder!r}")
    _, values = conn.response("UIDVALIDITY")
    if not values or values[-1] is None:
        raise MailboxError(f"the folder {folder!r} has no UIDVALIDITY")
    return int(values[-1])


def _ensure_folder(conn: imaplib.IMAP4, folder: str) -> None:
    """Create a target folder unless it exists (the answer to CREATE of an existing folder is NO: fine)."""
    conn.create(_quoted(folder))


def _uids(conn: imaplib.IMAP4) -> list[int]:
    data = _check(conn.uid("SEARCH", "UNDELETED"), "search the folder")
    return [int(uid) for uid in b" ".join(d for d in data if d).split()]


def _size(conn: imaplib.IMAP4, uid: int) -> int | None:
    data = _check(conn.uid("FETCH", str(uid), "(RFC822.SIZE)"), "give a message's size")
    for item in data:
        text = item[0] if isinstance(item, tuple) else item
        match = _SIZE.search(text or b"")
        if match:
            return int(match.group(1))
    return None  # expunged meanwhile (by someone else)


def _body(conn: imaplib.IMAP4, uid: int) -> bytes | None:
    """The whole message, without setting \\Seen (PEEK)."""
    data = _check(conn.uid("FETCH", str(uid), "(BODY.PEEK[])"), "give a message")
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            return bytes(item[1])
    return None


def move(conn: imaplib.IMAP4, uid: int, folder: str, capabilities: set[str]) -> None:
    """Move one message to a folder: MOVE (RFC 6851) where offered, else COPY, flag \\Deleted and expunge."""
    if "MOVE" in capabilities:
        _check(conn.uid("MOVE", str(uid), _quoted(folder)), f"move a message to {folder!r}")
        return
    _check(conn.uid("COPY", str(uid), _quoted(folder)), f"copy a message to {folder!r}")
    _check(conn.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)"), "flag a copied message")
    if "UIDPLUS" in capabilities:
        _check(conn.uid("EXPUNGE", str(uid)), "expunge a moved message")
    else:
        _check(conn.expunge(), "expunge a moved message")


def _message_id_hash(raw: bytes) -> str:
    """A copy of a message: the same Message-ID and the same body (relays add headers on the way, and a
    careless reporter may reuse a Message-ID for different reports)."""
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw[:65536])
    message_id = " ".join(str(headers.get("Message-ID", "")).split())
    if not message_id:
        return ""
    body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")[2]
    return keyed_hash(f"mailbox-message:{message_id}:{hashlib.sha256(body).hexdigest()}")


def _record(settings: MailboxSettings, uidvalidity: int, uid: int) -> MailboxMessage | None:
    return db.session.execute(
        select(MailboxMessage).where(
            MailboxMessage.mailbox == settings.name,
            MailboxMessage.uidvalidity == uidvalidity,
            MailboxMessage.uid == uid,
        )
    ).scalar()


def _earlier_copy(settings: MailboxSettings, message_id_hash: str) -> MailboxMessage | None:
    if not message_id_hash:
        return None
    return db.session.execute(
        select(MailboxMessage)
        .where(MailboxMessage.mailbox == settings.name, MailboxMessage.message_id_hash == message_id_hash)
        .order_by(MailboxMessage.id)
        .limit(1)
    ).scalar()


def _process(settings: MailboxSettings, uidvalidity: int, uid: int, raw: bytes | None) -> MailboxMessage:
    """Act on one message and commit its record in the same transaction as what it changed."""
    digest = _message_id_hash(raw) if raw is not None else ""
    earlier = _earlier_copy(settings, digest)
    record = MailboxMessage(
        mailbox=settings.name, uidvalidity=uidvalidity, uid=uid, message_id_hash=digest, outcome="processing"
    )
    db.session.add(record)
    if earlier is not None:
        outcome, detail = "copy", f"a copy of a message already read ({earlier.outcome}): nothing done again"
        target = earlier.outcome
    elif raw is None:
        outcome = "refused"
        limit = current_app.config["BOUNCE_MAX_REPORT_BYTES"]
        detail = f"larger than the {limit}-byte limit: not read"
        target = outcome
    else:
        try:
            # The record is written by the commit that writes what the message changed, not before (no
            # flush: on SQLite an unsubscribe's group commit writes through a connection of its own).
            with db.session.no_autoflush:
                result = process_inbound(raw, (), source="mailbox")
        except ReportRefusedError as exc:
            outcome, detail = "refused", str(exc)
        else:
            outcome, detail = result.status, result.detail
        if record not in db.session:  # a retried unsubscribe rolled the session back
            db.session.add(record)
        target = outcome
    record.outcome, record.detail = outcome, detail[:300]
    record.moved_to = settings.processed_folder if target in PROCESSED else settings.ignored_folder
    db.session.commit()
    return record


def _take(
    conn: imaplib.IMAP4,
    settings: MailboxSettings,
    uidvalidity: int,
    uid: int,
    capabilities: set[str],
    result: PollResult,
) -> None:
    record = _record(settings, uidvalidity, uid)
    if record is not None:
        result.resumed += 1  # acted on by a poll that stopped before moving it
    else:
        size = _size(conn, uid)
        if size is None:
            return
        raw = _body(conn, uid) if size <= current_app.config["BOUNCE_MAX_REPORT_BYTES"] else None
        try:
            record = _process(settings, uidvalidity, uid, raw)
        except IntegrityError:
            db.session.rollback()  # another poller took this message at the same moment
            return
        result.outcomes[record.outcome] += 1
    move(conn, uid, record.moved_to, capabilities)
    record.moved_at = utcnow()
    db.session.commit()
    result.moved += 1


def poll_mailbox(settings: MailboxSettings | None = None, limit: int | None = None) -> PollResult:
    """Take every message in the folder (at most `limit`), act on it once and move it out."""
    settings = settings or MailboxSettings.from_config(current_app.config)
    limit = current_app.config["BOUNCE_IMAP_BATCH"] if limit is None else limit
    result = PollResult(settings.name)
    conn = connect(settings)
    try:
        capabilities = _capabilities(conn)
        for folder in {settings.processed_folder, settings.ignored_folder}:
            _ensure_folder(conn, folder)
        uidvalidity = _select(conn, settings.folder)
        for uid in _uids(conn)[:limit]:
            try:
                _take(conn, settings, uidvalidity, uid, capabilities, result)
            except (imaplib.IMAP4.abort, OSError) as exc:
                db.session.rollback()  # what was committed stays; the next poll carries on from there
                why = str(exc)[:100] or exc.__class__.__name__
                raise MailboxError(
                    f"the connection to {settings.host}:{settings.port} broke after {result.moved} "
                    f"message(s) were moved ({why}); the rest stay for the next poll"
                ) from None
            except Exception:
                db.session.rollback()
                result.failed += 1
                log.exception("Bounce mailbox: message UID %s could not be processed; it stays", uid)
        _purge_records(settings)
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            conn.logout()
    log.info("Bounce mailbox polled: %s", result.summary())
    return result


def _purge_records(settings: MailboxSettings) -> None:
    """Records of messages moved out long ago (kept as long as the bounce log) are no longer needed."""
    cutoff = utcnow() - timedelta(days=current_app.config["BOUNCE_LOG_RETENTION_DAYS"])
    db.session.execute(
        delete(MailboxMessage).where(
            MailboxMessage.mailbox == settings.name,
            MailboxMessage.moved_at.is_not(None),
            MailboxMessage.moved_at < cutoff,
        )
    )
    db.session.commit()
