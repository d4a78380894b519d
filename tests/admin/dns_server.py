"""A tiny authoritative DNS server on loopback (UDP,
dnspython messages) so the readiness check meets real DNS."""

import socketserver
import threading

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


def _txt(value: str) -> str:
    """A TXT rdata in zone syntax, split into 255-character strings."""
    return " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255))


class DnsServer:
    """Answers from `records`: {(name, type): [values]};
    unknown names are NXDOMAIN, known ones NOERROR/empty."""

    def __init__(self, records: dict[tuple[str, str], list[str]]):
        self.records = {
            (name.rstrip(".").lower(), rdtype): values for (name, rdtype), values in records.items()
        }
        self.records.setdefault(("", "NS"), ["a.root-servers.example."])
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                data, sock = self.request
                sock.sendto(server.answer(data), self.client_address)

        self._udp = socketserver.ThreadingUDPServer(("127.0.0.1", 0), Handler)
        self.port = self._udp.server_address[1]
        self._thread = threading.Thread(target=self._udp.serve_forever, daemon=True)

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        for question in query.question:
            name = question.name.to_text().rstrip(".").lower()
            rdtype = dns.rdatatype.to_text(question.rdtype)
            values = self.records.get((name, rdtype))
            if values:
                texts = [_txt(v) for v in values] if rdtype == "TXT" else values
                response.answer.append(dns.rrset.from_text(question.name, 300, "IN", rdtype, *texts))
            elif not any(known == name for known, _ in self.records):
                response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._udp.shutdown()
        self._udp.server_close()
