"""A real SMTP server on loopback (aiosmtpd) that records every message and can answer with chosen codes."""

import socket
import threading
import time
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from aiosmtpd.controller import Controller


@dataclass
class Received:
    """One message as the server got it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    at: float = field(default_factory=time.monotonic)  # when it arrived (time.monotonic())

    @property
    def message(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.data)


class _Handler:
    def __init__(self, capture: "SmtpCapture"):
        self.capture = capture

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.capture.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.capture.lock:
            if self.capture.data_replies:
                return self.capture.data_replies.pop(0)
            self.capture.messages.append(
                Received(
                    envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content
                )
            )
            self.capture.arrived.notify_all()
            if self.capture.drop_after_data:  # accepted, but the connection breaks before the answer leaves
                self.capture.drop_after_data -= 1
                server.transport.abort()
        return "250 2.0.0 Message accepted"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpCapture:
    """Start/stop an aiosmtpd server; `.messages` holds what arrived, `.url` is an SMTP_URL for the app."""

    def __init__(self):
        self.messages: list[Received] = []
        self.rcpt_replies: dict[str, str] = {}  # address -> e.g. "550 5.1.1 No such user"
        self.data_replies: list[str] = []  # answers for the next DATA commands, e.g. "451 4.3.0 Try later"
        self.drop_after_data = 0  # keep the next N messages but drop the connection unanswered
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.port = _free_port()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, decode_data=False)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def restart(self) -> None:
        """Listen again on the same port after stop(): a relay that was down comes back."""
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, decode_data=False)
        self.controller.start()

    def to(self, address: str) -> list[Received]:
        """Messages delivered to one recipient."""
        return [m for m in self.messages if address in m.rcpt_tos]
