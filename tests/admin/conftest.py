"""Fixtures of the admin tests."""

import pytest

from tests.admin.dns_server import DnsServer


@pytest.fixture
def dns_zone(app):
    """A DNS server on loopback, no records yet, that the app asks (DNS_NAMESERVERS); tests add records."""
    server = DnsServer({})
    server.start()
    app.config.update(DNS_NAMESERVERS=[server.nameserver], DNS_TIMEOUT_SECONDS=2)
    yield server
    server.stop()
