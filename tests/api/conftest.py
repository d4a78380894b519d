"""API fixtures: keys created through the service (as the admin page does) and a client that sends them."""

import pytest

from mailer.core.extensions import db
from mailer.staff.api_keys import create_key
from tests.api.helpers import ApiClient


def _key(role: str, staff_user, name: str) -> str:
    _, secret = create_key(name, role, staff_user)
    db.session.commit()
    return secret


@pytest.fixture
def write_key(app_ctx, staff_user) -> str:
    return _key("read_write", staff_user, "Shop checkout")


@pytest.fixture
def read_key(app_ctx, staff_user) -> str:
    return _key("read_only", staff_user, "Reporting")


@pytest.fixture
def api(client, write_key) -> ApiClient:
    """A read-and-write integration."""
    return ApiClient(client, write_key)


@pytest.fixture
def read_api(client, read_key) -> ApiClient:
    """A read-only integration."""
    return ApiClient(client, read_key)
