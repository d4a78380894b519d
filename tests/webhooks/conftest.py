"""Webhook tests: a real HTTP receiver on loopback, let through by the outbound allow-list setting."""

import pytest

from tests.support.receiver import Receiver


@pytest.fixture
def receiver():
    """An HTTP server on 127.0.0.1 that records what arrives and answers 200 unless told otherwise."""
    server = Receiver().start()
    yield server
    server.stop()
