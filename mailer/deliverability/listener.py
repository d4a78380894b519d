"""The inbound SMTP listener for bounces and complaints (aiosmtpd): `flask --app wsgi bounces serve`.

RCPT is refused for anything but a valid VERP address, the bounce address, the complaints address and a
genuine mailto: unsubscribe address, so the listener is no open sink (E5). DATA over BOUNCE_MAX_REPORT_BYTES
is refused by aiosmtpd itself (552) before we parse a byte. Each report is processed (and committed) before
the 250 goes out; a failure answers 451 so the reporting server tries again later instead of the report being
lost.
"""

import asyncio
import logging

from aiosmtpd.controller import Controller
from flask import Flask

from mailer.deliverability.inbound import ReportRefusedError, process_inbound, recipient_refusal
from mailer.delivery.replies import bounce_base

log = logging.getLogger(__name__)


class ReportHandler:
    """aiosmtpd handler: database work runs in a thread pool, never on the event loop."""

    def __init__(self, app: Flask):
        self.app = app

    def _refusal(self, address: str) -> str | None:
        with self.app.app_context():
            return recipient_refusal(address)

    def _process(self, data: bytes, rcpt_tos: list[str]):
        with self.app.app_context():
            return process_inbound(data, rcpt_tos)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refusal = await asyncio.get_running_loop().run_in_executor(None, self._refusal, address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or envelope.content
        try:
            result = await asyncio.get_running_loop().run_in_executor(
                None, self._process, data, list(envelope.rcpt_tos)
            )
        except ReportRefusedError as exc:
            return f"552 5.3.4 {exc}"
        except Exception:
            log.exception("Could not process an inbound report")
            return "451 4.3.0 Could not process the report now; please try again later"
        detail = " ".join(f"{result.status}: {result.detail}".split())
        # An SMTP reply is ASCII; a list's name may not be.
        detail = detail.encode("ascii", "replace").decode()
        return f"250 2.0.0 {detail[:400]}"


class InboundServer:
    """Start/stop the listener on a host and port (in a background thread)."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 2526):
        with app.app_context():
            server_name = bounce_base()[1]
        self.host, self.port = host, port
        self.controller = Controller(
            ReportHandler(app),
            hostname=host,
            port=port,
            server_hostname=server_name,
            data_size_limit=app.config["BOUNCE_MAX_REPORT_BYTES"],
            decode_data=False,
        )

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
