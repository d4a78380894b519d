"""Outbound HTTP to URLs a user typed (webhooks, RSS feeds): the one SSRF rule every such request follows.

A URL must be http(s) without credentials; its host is resolved and every address it resolves to must be
public (no private, loopback, link-local, multicast, reserved, shared or unspecified address, IPv4 or IPv6,
including IPv4 addresses embedded in IPv6 ones). The check runs inside the connection itself: the socket
connects to the very address that was checked, so a DNS answer that changes between check and use
(rebinding) gains nothing, and every redirect opens its connection through the same check. Responses are
read under a time budget and a size cap. `MAILER_OUTBOUND_ALLOW_HOSTS` names hosts, addresses or networks
allowed although private (a receiver on the same machine in tests, an intranet service on purpose); empty by
default.

Use `check_url()` to validate what a person typed (forms, API) and `fetch()` for the request itself.
"""

import contextlib
import functools
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
from flask import current_app, has_app_context

from mailer.core.sentences import N_, Sentence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_BYTES = 1024 * 1024
MAX_URL_LENGTH = 2048
USER_AGENT = "mailer-outbound/1"
# NAT64's well-known prefix carries an IPv4 address in its last 32 bits (RFC 6052).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Shared address space (carrier-grade NAT, RFC 6598): neither private nor global in every Python version.
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")


# Why a URL is refused or a request failed: stored with a webhook attempt or a feed run, shown translated.
ENTER_URL = Sentence(N_("Enter a URL."))
URL_TOO_LONG = Sentence(N_("The URL is longer than %(limit)s characters."))
URL_CONTROLS = Sentence(N_("The URL contains spaces or control characters."))
URL_INVALID = Sentence(N_("The URL is not valid (%(problem)s)."))
URL_SCHEME = Sentence(N_("The URL must start with https:// or http://."))
URL_CREDENTIALS = Sentence(N_("The URL must not contain a user name or password."))
URL_NO_HOST = Sentence(N_("The URL has no host name."))
HOST_UNRESOLVED = Sentence(N_("The host name %(host)s could not be resolved."))
HOST_NO_ADDRESS = Sentence(N_("The host name %(host)s has no address."))
HOST_PRIVATE = Sentence(
    N_("%(host)s leads to a private or reserved address (%(address)s); only public addresses are allowed.")
)
CONNECT_FAILED = Sentence(N_("Could not connect to %(host)s:%(port)s (%(problem)s)."))
NO_ANSWER = Sentence(N_("No answer within %(seconds)s seconds."))
REQUEST_FAILED = Sentence(N_("The request failed: %(error)s (%(problem)s)."))
TOO_MANY_REDIRECTS = Sentence(N_("More than %(count)s redirects."))
ANSWER_TOO_LARGE = Sentence(N_("The answer is larger than %(limit)s bytes."))
ANSWER_INCOMPLETE = Sentence(N_("No complete answer within %(seconds)s seconds."))
ANSWER_CUT_OFF = Sentence(N_("The answer was cut off: %(error)s."))


class OutboundError(Exception):
    """An outbound request that did not produce a response; `reason` is a sentence a person understands."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class OutboundRefused(OutboundError):
    """The URL or the address it leads to is not allowed: retrying will not help."""


class OutboundFailed(OutboundError):
    """The request was allowed but failed (DNS, connection, timeout, oversized answer): worth retrying."""


@dataclass(frozen=True)
class OutboundResponse:
    """What came back: status, headers, the body (at most the cap; `truncated` if there was more), timing."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str
    duration_ms: int
    truncated: bool = False

    def text(self) -> str:
        """The body decoded as UTF-8, undecodable bytes replaced."""
        return self.body.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class AllowList:
    """Hosts and networks let through although not public (`MAILER_OUTBOUND_ALLOW_HOSTS`)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> "AllowList":
        """Read entries: a host name, an address or a network in CIDR notation each."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in (e.strip() for e in entries):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        """True when the host name itself is listed."""
        return host.lower().rstrip(".") in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        """True when the address lies in a listed network."""
        return any(address.version == net.version and address in net for net in self.networks)


def configured_allow_list() -> AllowList:
    """The app's allow-list, or an empty one outside an app context."""
    if not has_app_context():
        return AllowList()
    return AllowList.parse(current_app.config.get("MAILER_OUTBOUND_ALLOW_HOSTS") or [])


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: IPAddress) -> bool:
    """True when the address is globally routable unicast: the only kind a user's URL may reach."""
    special = (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        special = special or address.is_site_local or bool(address.scope_id)
        special = special or (embedded is not None and not is_public_address(embedded))
    else:
        special = special or address in _SHARED
    return not special and address.is_global


def split_url(url: str) -> tuple[str, str, int]:
    """Check a URL's form and return (scheme, host, port); raise OutboundRefused with the reason."""
    url = (url or "").strip()
    if not url:
        raise OutboundRefused(ENTER_URL())
    if len(url) > MAX_URL_LENGTH:
        raise OutboundRefused(URL_TOO_LONG(limit=MAX_URL_LENGTH))
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise OutboundRefused(URL_CONTROLS())
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise OutboundRefused(URL_INVALID(problem=exc)) from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise OutboundRefused(URL_SCHEME())
    if parts.username is not None or parts.password is not None:
        raise OutboundRefused(URL_CREDENTIALS())
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise OutboundRefused(URL_NO_HOST())
    return scheme, host, port or (443 if scheme == "https" else 80)


def resolve_allowed(host: str, port: int, allow: AllowList) -> list[IPAddress]:
    """Resolve a host and return its addresses if every one is allowed; raise OutboundRefused otherwise.

    Every address must pass, not just one: a name resolving to a public and a private address is refused
    rather than trusting which of them a connection would pick.
    """
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise OutboundFailed(HOST_UNRESOLVED(host=host)) from exc
        addresses = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
    if not addresses:
        raise OutboundFailed(HOST_NO_ADDRESS(host=host))
    if allow.allows_host(host):
        return addresses
    for address in addresses:
        if not is_public_address(address) and not allow.allows_address(address):
            raise OutboundRefused(HOST_PRIVATE(host=host, address=address))
    return addresses


def check_url(url: str, *, resolve: bool = True, allow: AllowList | None = None) -> str:
    """Validate a URL a user typed (form and API input): its form, and where it leads unless `resolve=False`.

    A host that cannot be resolved right now is accepted (DNS may come later); one that resolves to a
    forbidden address is refused. Returns the URL, stripped.
    """
    url = (url or "").strip()
    _scheme, host, port = split_url(url)
    if resolve:
        with contextlib.suppress(OutboundFailed):
            resolve_allowed(host, port, allow if allow is not None else configured_allow_list())
    return url


class _GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, resolving names itself and connecting only to addresses it has checked."""

    def __init__(self, allow: AllowList):
        self._allow = allow

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Connect to the first reachable allowed address of `host` (the TLS layer still verifies `host`)."""
        last_error: Exception | None = None
        for address in resolve_allowed(host, port, self._allow):
            try:
                return super().connect_tcp(str(address), port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last_error = exc
        raise OutboundFailed(CONNECT_FAILED(host=host, port=port, problem=last_error))


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per process (certifi, or SSL_CERT_FILE when set): loading the CA bundle
    costs tens of milliseconds, far more than a webhook request to a nearby receiver."""
    return httpx.create_ssl_context()


def _transport(allow: AllowList) -> httpx.HTTPTransport:
    """An httpx transport whose connection pool opens sockets through the guarded backend."""
    transport = httpx.HTTPTransport(verify=_ssl_context(), retries=0)
    # httpx's transport takes no network backend; its pool is replaced by an identical one that has ours.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=_ssl_context(),
        max_connections=4,
        retries=0,
        network_backend=_GuardedBackend(allow),
    )
    return transport


def fetch(
    method: str,
    url: str,
    *,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    truncate: bool = False,
    max_redirects: int = 0,
    allow: AllowList | None = None,
) -> OutboundResponse:
    """Send one request to a user's URL under the outbound rule and return the (capped) response.

    `timeout` bounds the whole exchange (connect, send, every read); `max_bytes` caps the body: with
    `truncate` the rest is dropped and the response marked truncated, otherwise OutboundFailed. Redirects
    are followed only for GET and HEAD, at most `max_redirects`, each to a URL that passes the same checks;
    otherwise a 3xx is returned as it is. Environment proxies are ignored: they would bypass the check.
    """
    allow = allow if allow is not None else configured_allow_list()
    method = method.upper()
    started = time.monotonic()
    deadline = started + timeout
    request_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    with httpx.Client(
        transport=_transport(allow), trust_env=False, follow_redirects=False, timeout=timeout
    ) as client:
        for _hop in range(max_redirects + 1):
            split_url(url)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OutboundFailed(NO_ANSWER(seconds=f"{timeout:g}"))
            try:
                request = client.build_request(
                    method, url, content=content, headers=request_headers, timeout=remaining
                )
                response = client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                raise OutboundFailed(NO_ANSWER(seconds=f"{timeout:g}")) from exc
            except httpx.HTTPError as exc:
                raise OutboundFailed(REQUEST_FAILED(error=exc.__class__.__name__, problem=exc)) from exc
            try:
                location = response.headers.get("location")
                if response.is_redirect and location and method in ("GET", "HEAD") and max_redirects:
                    if _hop == max_redirects:
                        raise OutboundFailed(TOO_MANY_REDIRECTS(count=max_redirects))
                    url = urljoin(url, location)
                    continue
                body, truncated = _read_capped(response, max_bytes, truncate, deadline, timeout)
                return OutboundResponse(
                    status=response.status_code,
                    headers=dict(response.headers),
                    body=body,
                    url=url,
                    duration_ms=round((time.monotonic() - started) * 1000),
                    truncated=truncated,
                )
            finally:
                response.close()
    raise AssertionError("unreachable: the last hop returns or raises")


def _read_capped(
    response: httpx.Response, max_bytes: int, truncate: bool, deadline: float, timeout: float
) -> tuple[bytes, bool]:
    """Read a streamed body up to `max_bytes` within the deadline (a slow drip cannot hold a worker)."""
    declared = response.headers.get("content-length", "")
    if not truncate and declared.isdigit() and int(declared) > max_bytes:
        raise OutboundFailed(ANSWER_TOO_LARGE(limit=max_bytes))
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_bytes():
            if time.monotonic() > deadline:
                raise OutboundFailed(ANSWER_INCOMPLETE(seconds=f"{timeout:g}"))
            size += len(chunk)
            if size > max_bytes:
                if not truncate:
                    raise OutboundFailed(ANSWER_TOO_LARGE(limit=max_bytes))
                chunks.append(chunk[: max_bytes - (size - len(chunk))])
                return b"".join(chunks), True
            chunks.append(chunk)
    except httpx.TimeoutException as exc:
        raise OutboundFailed(ANSWER_INCOMPLETE(seconds=f"{timeout:g}")) from exc
    except httpx.HTTPError as exc:
        raise OutboundFailed(ANSWER_CUT_OFF(error=exc.__class__.__name__)) from exc
    return b"".join(chunks), False
