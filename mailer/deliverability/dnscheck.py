"""DNS look-ups for the deliverability check (dnspython), and the records we ask operators to publish.

A resolver that cannot reach real DNS is detected up front by asking for the root's NS records: no real
resolver answers NXDOMAIN for the root, and a sandbox or offline machine does exactly that or times out.
Then every check says "unknown" and only the records to publish are shown.
"""

from dataclasses import dataclass

import dns.exception
import dns.nameserver
import dns.resolver

SHORT_PUBLIC_SUFFIXES = {"ac", "co", "com", "edu", "gov", "net", "org", "ltd", "plc", "or", "ne", "gv"}


class DnsUnavailableError(Exception):
    """DNS did not answer (timeout, no servers, refused): the state of a record is unknown."""


@dataclass(frozen=True)
class Record:
    """A DNS record to publish."""

    name: str
    type: str
    value: str

    @property
    def zone_line(self) -> str:
        """A zone-file line; TXT values split into 255-character strings as DNS requires."""
        if self.type != "TXT":
            return f"{self.name}. IN {self.type} {self.value}"
        chunks = " ".join(f'"{self.value[i : i + 255]}"' for i in range(0, len(self.value), 255))
        return f"{self.name}. IN TXT {chunks if len(self.value) <= 255 else f'( {chunks} )'}"


def organisational_domain(domain: str) -> str:
    """Approximately the registrable domain (DMARC relaxed alignment): example.com, example.co.uk.

    Without the Public Suffix List this treats a short second-level label under a two-letter TLD (co.uk,
    com.au) as a suffix; exotic suffixes may be judged wrongly, which the page says.
    """
    labels = domain.lower().rstrip(".").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in SHORT_PUBLIC_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


class Resolver:
    """A small wrapper over dnspython: TXT and MX answers, "missing" versus "DNS did not answer"."""

    def __init__(self, nameservers: list[str] | None = None, timeout: float = 3.0):
        self.error = ""
        try:
            self._resolver = dns.resolver.Resolver(configure=not nameservers)
        except dns.exception.DNSException as exc:  # e.g. no /etc/resolv.conf
            self._resolver = dns.resolver.Resolver(configure=False)
            self.error = f"no DNS resolver is configured ({exc.__class__.__name__})"
        if nameservers:
            servers = []
            for spec in nameservers:
                host, _, port = spec.rpartition(":") if spec.count(":") == 1 else (spec, "", "")
                servers.append(dns.nameserver.Do53Nameserver(host, int(port) if port else 53))
            self._resolver.nameservers = servers
        self._resolver.timeout = self._resolver.lifetime = timeout

    def probe(self) -> str:
        """'' when DNS answers truthfully, else why it cannot be used."""
        if self.error:
            return self.error
        try:
            self._resolver.resolve(".", "NS")
        except dns.resolver.NXDOMAIN:
            return "the resolver says the DNS root does not exist (this machine has no access to public DNS)"
        except dns.exception.DNSException as exc:
            return f"DNS did not answer ({exc.__class__.__name__}: {exc})"
        return ""

    def _answer(self, name: str, rdtype: str):
        try:
            return self._resolver.resolve(name, rdtype)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as exc:
            raise DnsUnavailableError(f"{exc.__class__.__name__}: {exc}") from exc

    def txt(self, name: str) -> list[str]:
        """Every TXT value at a name (strings joined); [] when there is none."""
        return [b"".join(r.strings).decode("utf-8", "replace") for r in self._answer(name, "TXT")]

    def mx(self, name: str) -> list[str]:
        """The mail exchangers of a name, best first; [] when there are none."""
        records = sorted(self._answer(name, "MX"), key=lambda r: r.preference)
        return [str(r.exchange).rstrip(".") for r in records]
