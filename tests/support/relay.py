"""A recording SMTP relay (aiosmtpd on loopback) whose behaviour can be switched while mail flows.

Modes: normal; down (stops listening, so new connections are refused, and answers `421 4.3.2` to the next MAIL
or RCPT of open sessions: a message it received in full is still answered and kept, as a relay shutting down
does); tempfail (every RCPT and DATA answered `451 4.3.0`); and a deterministic share of recipients refused
with `550 5.1.1`. It keeps every accepted (envelope sender, recipient) pair and every recipient it refused
permanently.
"""

import hashlib
import threading
import time
from dataclasses import dataclass

from aiosmtpd.controller import Controller

TEMPFAIL = "451 4.3.0 Temporary failure, try again later"
SHUTTING_DOWN = "421 4.3.2 Service shutting down, closing transmission channel"
NO_SUCH_USER = "550 5.1.1 No such user here"


@dataclass(frozen=True)
class Accepted:
    """One message the relay took responsibility for."""

    mail_from: str
    rcpt: str
    at: float


class _Handler:
    def __init__(self, relay: "RecordingRelay"):
        self.relay = relay

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]  # like Postfix: commands may be pipelined

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.relay.down:
            return SHUTTING_DOWN
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refusal = self.relay.rcpt_refusal(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        return self.relay.accept(envelope.mail_from, list(envelope.rcpt_tos))


class RecordingRelay:
    """Start with .start(); point SMTP_URL at .url; switch
    modes with go_down/come_back/tempfail/refuse_share."""

    def __init__(self, port: int):
        self.port = port
        self.lock = threading.Lock()
        self.accepted: list[Accepted] = []
        self.refused: set[str] = set()  # recipients answered 550 5.1.1
        self.tempfailing = False
        self.down = False
        self.refused_per_mille = 0
        self.down_after: int | None = None  # go down once it has accepted this many messages
        self.server_options: dict = {}  # extra aiosmtpd SMTP options (e.g. a login it requires)
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout=10"

    # --- behaviour ------------------------------------------------------------------------------------------

    def refuses(self, address: str) -> bool:
        """Whether `address` is among the recipients refused in 550 mode (the same ones on every attempt)."""
        digest = hashlib.sha256(address.lower().encode()).digest()
        return int.from_bytes(digest[:4], "big") % 1000 < self.refused_per_mille

    def rcpt_refusal(self, address: str) -> str | None:
        if self.down:
            return SHUTTING_DOWN
        if self.tempfailing:
            return TEMPFAIL
        if self.refused_per_mille and self.refuses(address):
            with self.lock:
                self.refused.add(address.lower())
            return NO_SUCH_USER
        return None

    def accept(self, mail_from: str, rcpt_tos: list[str]) -> str:
        if self.tempfailing:
            return TEMPFAIL
        now = time.time()
        with self.lock:
            self.accepted.extend(Accepted(mail_from, rcpt.lower(), now) for rcpt in rcpt_tos)
            stop = self.down_after is not None and len(self.accepted) >= self.down_after and not self.down
        if stop:  # this message is answered and kept; the next MAIL or connection is turned away
            self.go_down()
        return "250 2.0.0 Message accepted for delivery"

    # --- switches -------------------------------------------------------------------------------------------

    def start(self) -> None:
        self.controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            decode_data=False,
            ready_timeout=60,
            **self.server_options,
        )
        self.controller.start()

    def go_down(self) -> None:
        """Stop listening (new connections are refused) and turn open sessions away at their next command."""
        self.down = True
        if self.controller is not None and self.controller.server is not None:
            self.controller.loop.call_soon_threadsafe(self.controller.server.close)

    def come_back(self) -> None:
        """Listen again on the same port (sessions left from before the outage are dropped)."""
        if self.down or self.controller is None:
            self.close()
            self.start()
        self.down = False

    def tempfail(self, on: bool) -> None:
        self.tempfailing = on

    def refuse_share(self, percent: float) -> None:
        """Refuse this share of recipients with 550 5.1.1 (chosen by a hash of the address)."""
        self.refused_per_mille = round(percent * 10)

    def reset(self) -> None:
        """Normal behaviour and an empty record (between two runs)."""
        self.tempfail(False)
        self.refuse_share(0)
        self.come_back()
        with self.lock:
            self.accepted.clear()
            self.refused.clear()

    def snapshot(self) -> tuple[list[Accepted], set[str]]:
        with self.lock:
            return list(self.accepted), set(self.refused)

    def close(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
