"""Outbound HTTP: public addresses only, checked at connect time, redirects re-checked, answers capped."""

import ipaddress
import socket
import threading

import pytest

from mailer import create_app
from mailer.core import outbound
from mailer.core.outbound import AllowList, OutboundFailed, OutboundRefused, check_url, fetch
from tests.support.proxy import app_config_from_environment
from tests.support.receiver import Answer, Receiver

LOOPBACK = AllowList.parse(["127.0.0.1"])


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",  # documentation
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "fec0::1",
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2001:db8::1",  # documentation
    ],
)
def test_private_loopback_link_local_multicast_reserved_and_mapped_addresses_are_not_public(address):
    assert not outbound.is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111"])
def test_global_unicast_addresses_are_public(address):
    assert outbound.is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "Enter a URL"),
        ("ftp://example.com/feed", "https://"),
        ("file:///etc/passwd", "https://"),
        ("gopher://example.com/", "https://"),
        ("https://user:secret@example.com/hook", "user name or password"),
        ("https:///path-only", "no host"),
        ("https://example.com:99999/", "not valid"),
        ("https://exa mple.com/", "spaces"),
        ("http://127.0.0.1/", "private or reserved address (127.0.0.1)"),
        ("http://localhost:8080/admin", "private or reserved"),
        ("http://[::1]/", "private or reserved address (::1)"),
        ("http://[::ffff:127.0.0.1]/", "private or reserved"),
        ("http://[::ffff:7f00:1]/", "private or reserved"),
        ("http://169.254.169.254/latest/meta-data/", "private or reserved"),
        ("http://2130706433/", "private or reserved"),  # 127.0.0.1 as one decimal number
        ("http://0x7f.0.0.1/", "private or reserved"),
        ("http://10.1.2.3./", "private or reserved"),
    ],
)
def test_check_url_refuses_with_a_reason_a_person_understands(url, reason):
    with pytest.raises(OutboundRefused) as refused:
        check_url(url)
    assert reason in refused.value.reason


def test_check_url_accepts_a_public_address_and_an_unresolvable_name():
    assert check_url(" https://93.184.216.34/hook ") == "https://93.184.216.34/hook"
    # DNS may not exist yet when the endpoint is saved; every request is checked again when it is made.
    assert check_url("https://hooks.invalid/x") == "https://hooks.invalid/x"


def test_a_loopback_receiver_is_refused_unless_allowed(receiver):
    with pytest.raises(OutboundRefused):
        fetch("POST", receiver.url("/hook"), content=b"{}", allow=AllowList())
    assert receiver.requests == []

    answer = fetch("POST", receiver.url("/hook"), content=b'{"a":1}', allow=LOOPBACK)
    assert (answer.status, answer.body) == (200, b"ok")
    assert receiver.requests[0].body == b'{"a":1}'
    assert answer.duration_ms >= 0


def test_a_host_name_on_the_allow_list_is_let_through_whatever_it_resolves_to(receiver):
    answer = fetch("GET", f"http://localhost:{receiver.port}/x", allow=AllowList.parse(["LOCALHOST"]))
    assert answer.status == 200
    assert receiver.requests[0].headers["host"] == f"localhost:{receiver.port}"


def test_every_redirect_is_checked_again(receiver):
    # localhost is allowed by name; the redirect goes to 127.0.0.1, which is not.
    receiver.answers = [Answer(status=302, headers={"Location": f"http://127.0.0.1:{receiver.port}/secret"})]
    allow_name = AllowList.parse(["localhost"])
    with pytest.raises(OutboundRefused, match=r"127\.0\.0\.1"):
        fetch("GET", f"http://localhost:{receiver.port}/feed", max_redirects=3, allow=allow_name)
    assert [r.path for r in receiver.requests] == ["/feed"]


def test_redirects_are_followed_only_when_asked_and_only_so_far(receiver):
    receiver.answers = [
        Answer(status=301, headers={"Location": "/second"}),
        Answer(status=302, headers={"Location": receiver.url("/third")}),
        Answer(status=200, body=b"feed"),
    ]
    assert fetch("GET", receiver.url("/first"), allow=LOOPBACK).status == 301
    answer = fetch("GET", receiver.url("/first"), max_redirects=2, allow=LOOPBACK)
    assert (answer.status, answer.body, answer.url) == (200, b"feed", receiver.url("/third"))
    receiver.requests.clear()
    receiver.answers = [Answer(status=302, headers={"Location": "/again"})]
    with pytest.raises(OutboundFailed, match="More than 2 redirects"):
        fetch("GET", receiver.url("/loop"), max_redirects=2, allow=LOOPBACK)
    assert len(receiver.requests) == 3


def test_a_redirect_to_another_scheme_is_refused(receiver):
    receiver.answers = [Answer(status=302, headers={"Location": "file:///etc/passwd"})]
    with pytest.raises(OutboundRefused, match="https://"):
        fetch("GET", receiver.url("/feed"), max_redirects=3, allow=LOOPBACK)


def test_a_post_is_never_redirected(receiver):
    receiver.answers = [Answer(status=307, headers={"Location": "/elsewhere"})]
    answer = fetch("POST", receiver.url("/hook"), content=b"x", max_redirects=3, allow=LOOPBACK)
    assert answer.status == 307
    assert [r.path for r in receiver.requests] == ["/hook"]


@pytest.mark.parametrize("chunked", [False, True])
def test_an_answer_over_the_size_cap_is_refused_or_truncated(receiver, chunked):
    receiver.answers = [Answer(body=b"x" * 300_000, chunked=chunked)]
    with pytest.raises(OutboundFailed, match="larger than 100000 bytes"):
        fetch("GET", receiver.url("/big"), max_bytes=100_000, allow=LOOPBACK)
    answer = fetch("GET", receiver.url("/big"), max_bytes=100_000, truncate=True, allow=LOOPBACK)
    assert (len(answer.body), answer.truncated) == (100_000, True)


def test_a_receiver_that_does_not_answer_times_out(receiver):
    stalled = threading.Event()
    receiver.answers = [Answer(hold=stalled)]
    try:
        with pytest.raises(OutboundFailed, match=r"No answer within 0\.5 seconds"):
            fetch("POST", receiver.url("/slow"), content=b"x", timeout=0.5, allow=LOOPBACK)
    finally:
        stalled.set()


def test_nothing_listening_is_a_failure_worth_retrying():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(OutboundFailed):
        fetch("GET", f"http://127.0.0.1:{port}/", allow=LOOPBACK)


def test_the_address_connected_to_is_the_address_checked(receiver, monkeypatch):
    """DNS rebinding: a name that looked public when the URL was saved points at loopback when it is used."""
    answers = iter([[("8.8.8.8", 80)], [("127.0.0.1", receiver.port)]])
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.example":
            return real(host, port, *args, **kwargs)
        address = next(answers)[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address[0], port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    assert check_url(f"http://rebind.example:{receiver.port}/hook")
    with pytest.raises(OutboundRefused, match=r"127\.0\.0\.1"):
        fetch("POST", f"http://rebind.example:{receiver.port}/hook", content=b"x", allow=AllowList())
    assert receiver.requests == []


def test_proxy_variables_in_the_environment_are_not_used(receiver, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://10.0.0.1:3128")
    monkeypatch.setenv("ALL_PROXY", "http://10.0.0.1:3128")
    assert fetch("GET", receiver.url("/direct"), allow=LOOPBACK).status == 200


def test_the_allow_list_comes_from_the_environment(monkeypatch, database_url, receiver):
    app_config_from_environment(
        monkeypatch, MAILER_OUTBOUND_ALLOW_HOSTS=" 127.0.0.1 , hooks.internal,10.9.0.0/16"
    )
    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": database_url})
    try:
        assert app.config["MAILER_OUTBOUND_ALLOW_HOSTS"] == ["127.0.0.1", "hooks.internal", "10.9.0.0/16"]
        with app.app_context():
            allowed = outbound.configured_allow_list()
            assert allowed.allows_host("HOOKS.internal")
            assert allowed.allows_address(ipaddress.ip_address("10.9.3.4"))
            assert not allowed.allows_address(ipaddress.ip_address("10.8.3.4"))
            assert check_url(receiver.url("/hook")) == receiver.url("/hook")
            assert fetch("POST", receiver.url("/hook"), content=b"{}").status == 200
    finally:
        app.extensions["mailer.workers"].broker.close()


def test_the_allow_list_is_empty_by_default(app_ctx, receiver):
    assert outbound.configured_allow_list() == AllowList()
    with pytest.raises(OutboundRefused):
        fetch("GET", receiver.url("/"))
