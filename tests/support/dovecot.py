"""A real Dovecot IMAP server on loopback for the bounce-mailbox tests (Debian's dovecot-imapd).

Started by the test as an unprivileged process (the `dovecot` user when the tests run as root, else the
test's own user) with a generated configuration: TLS required, a certificate from a throw-away CA (trustme),
one user in a passwd file, Maildir storage in a temporary directory of its own (removed afterwards).
The fixture waits for Dovecot's own "starting up" log line, written once its listeners are open, never for a
fixed time.
"""

import imaplib
import os
import pwd
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import trustme

from tests.support.smtp import _free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "bounces", "mailbox-secret"

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = mailer-test-{imaps_port}
log_path = /dev/stderr
info_log_path = /dev/stderr
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 1
first_valid_gid = 1
ssl = required
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = yes
auth_mechanisms = plain
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = {root}/passwd
}}
mail_location = maildir:{root}/mail/%u
service imap-login {{
  inet_listener imap {{
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = {imaps_port}
    ssl = yes
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""


@dataclass
class Dovecot:
    """A running Dovecot: where it listens, its CA, and an IMAP client for the test's own look at folders."""

    root: Path
    imap_port: int
    imaps_port: int
    ca_file: str
    process: subprocess.Popen
    log: list[str] = field(default_factory=list)  # Dovecot's log lines (e.g. "Login: … TLS")
    logged: threading.Condition = field(default_factory=threading.Condition)

    def add_log(self, line: str) -> None:
        with self.logged:
            self.log.append(line)
            self.logged.notify_all()

    def wait_for_log(self, predicate, timeout: float = 30) -> list[str]:
        """Dovecot's processes log on their own time: wait until the log shows what the test expects."""
        with self.logged:
            assert self.logged.wait_for(lambda: predicate(self.log), timeout), self.log
            return list(self.log)

    def url(self, *, implicit_tls: bool = True, password: str = PASSWORD) -> str:
        if implicit_tls:
            return f"imaps://{USER}:{password}@127.0.0.1:{self.imaps_port}"
        return f"imap://{USER}:{password}@127.0.0.1:{self.imap_port}"

    def client(self) -> imaplib.IMAP4_SSL:
        conn = imaplib.IMAP4_SSL(
            "127.0.0.1", self.imaps_port, ssl_context=ssl.create_default_context(cafile=self.ca_file)
        )
        conn.login(USER, PASSWORD)
        return conn

    def deliver(self, raw: bytes, folder: str = "INBOX") -> int:
        """Put a message into a folder as a relay's delivery would; returns its UID."""
        conn = self.client()
        try:
            status, data = conn.append(f'"{folder}"', None, None, raw)
            assert status == "OK", data
            return int(data[0].split()[2].rstrip(b"]"))  # [APPENDUID <uidvalidity> <uid>]
        finally:
            conn.logout()

    def folder(self, name: str) -> list[bytes]:
        """The messages in a folder (read without marking them seen); [] when it does not exist."""
        conn = self.client()
        try:
            status, _ = conn.select(f'"{name}"', readonly=True)
            if status != "OK":
                return []
            _, data = conn.uid("SEARCH", "ALL")
            messages = []
            for uid in data[0].split():
                _, parts = conn.uid("FETCH", uid, "(BODY.PEEK[])")
                messages.append(bytes(parts[0][1]))
            return messages
        finally:
            conn.logout()


def _identity() -> tuple[str, int, int]:
    """The unprivileged user Dovecot runs as: `dovecot` when the tests run as root, else the test's user."""
    entry = pwd.getpwnam("dovecot") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    return entry.pw_name, entry.pw_uid, entry.pw_gid


def start_dovecot() -> Iterator[Dovecot]:
    """Start Dovecot in a fresh directory (pytest's tmp_path is private to root when tests run as root)."""
    root = Path(tempfile.mkdtemp(prefix="mailer-dovecot-"))
    try:
        yield from _run(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(root: Path) -> Iterator[Dovecot]:
    user, uid, gid = _identity()
    group = subprocess.run(["id", "-gn", user], capture_output=True, text=True, check=True).stdout.strip()
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir(parents=True)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_pem.write_to_path(str(root / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
    ca_file = str(root / "ca.pem")
    ca.cert_pem.write_to_path(ca_file)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{root}/mail/{USER}\n")
    imap_port, imaps_port = _free_port(), _free_port()
    config = root / "dovecot.conf"
    config.write_text(
        CONFIG.format(root=root, user=user, group=group, imap_port=imap_port, imaps_port=imaps_port)
    )
    for path in [root, *root.rglob("*")]:
        os.chown(path, uid, gid)
    os.chmod(ca_file, 0o644)
    process = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        user=uid if os.geteuid() == 0 else None,
        group=gid if os.geteuid() == 0 else None,
        extra_groups=[] if os.geteuid() == 0 else None,
        start_new_session=True,
    )
    assert process.stderr is not None
    started = []
    for line in process.stderr:  # Dovecot logs this once its listeners are open
        started.append(line.decode("utf-8", "replace"))
        if b"starting up" in line:
            break
    else:
        process.wait()
        raise RuntimeError("Dovecot did not start:\n" + "".join(started))
    server = Dovecot(root, imap_port, imaps_port, ca_file, process, started)
    stderr = process.stderr

    def read() -> None:  # keeps the pipe drained; ends when Dovecot's processes have all closed it
        for line in stderr:
            server.add_log(line.decode("utf-8", "replace"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # Dovecot and the login processes it started (its own group)
        process.wait(timeout=30)
        reader.join(timeout=30)
        stderr.close()
