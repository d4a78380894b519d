"""Fixtures of the deliverability tests."""

import pytest

from mailer.core.extensions import db
from mailer.subscriptions.lists import create_list, ensure_tracking_purposes


@pytest.fixture
def news(app_ctx):
    """A list "News" with the tracking purposes in place."""
    ensure_tracking_purposes()
    mailing_list = create_list("News")
    db.session.commit()
    return mailing_list
