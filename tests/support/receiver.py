"""A real HTTP server on loopback that records every request and answers what the test scripted."""

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    """What the receiver sends back; `hold` makes it wait (until the event is set) before answering."""

    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False
    hold: threading.Event | None = None


class Receiver:
    """An HTTP server in a thread: `answers` are used in order (the last one repeats), `requests` fill up."""

    def __init__(self, host: str = "127.0.0.1"):
        self.requests: list[Received] = []
        self.answers: list[Answer] = [Answer()]
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver.arrived:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.requests.append(Received(self.command, self.path, headers, body))
                    index = len(receiver.requests) - 1
                    answer = receiver.answers[min(index, len(receiver.answers) - 1)]
                    receiver.arrived.notify_all()
                if answer.hold is not None:
                    answer.hold.wait(30)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if answer.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for start in range(0, len(answer.body), 65536):
                        piece = answer.body[start : start + 65536]
                        self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                    return
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer.body)

            do_GET = do_POST = do_HEAD = do_PUT = _handle  # noqa: N815 (http.server's method names)

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.host = host
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/") -> str:
        """The receiver's URL for a path."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        """Block until `count` requests have arrived (a condition, not a sleep) and return them."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)
        return list(self.requests)

    def start(self) -> "Receiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        for answer in self.answers:
            if answer.hold is not None:
                answer.hold.set()
        self.server.shutdown()
        self.server.server_close()
