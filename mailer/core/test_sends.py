"""One budget of test sends for each staff member (TEST_SEND_RATE_LIMIT), whatever is tested and whatever the
door: a campaign's, a transactional template's or a journey's test, from the admin or through an API key.

A test goes to addresses the sender types, so without one budget an account, or a key it made, could mail
anyone through the organisation's relay by switching between kinds of test or doors. An API key spends the
budget of the staff member who created it (a key whose creator is gone has its own). Only tests that went out
count: a door asks `wait_seconds()` before sending and calls `spend()` once a test is on its way.
"""

import math
import time

from flask import Response, current_app, g
from flask_babel import gettext
from flask_login import current_user
from limits import RateLimitItem, parse

from mailer.core.extensions import limiter

_NAMESPACE = "test-send"


def limit_text() -> str:
    """The budget as configured, e.g. "20 per hour" (said in refusals)."""
    return current_app.config["TEST_SEND_RATE_LIMIT"]


def _item() -> RateLimitItem:
    return parse(limit_text())


def _sender() -> str:
    key = getattr(g, "api_key", None)
    if key is not None:
        return f"staff-{key.created_by_id}" if key.created_by_id is not None else f"key-{key.prefix}"
    return f"staff-{current_user.id}"


def wait_seconds() -> int | None:
    """None while the current sender may send another test; else the seconds until they may."""
    if not (limiter.enabled and limiter.initialized):
        return None
    item, sender = _item(), _sender()
    if limiter.limiter.test(item, _NAMESPACE, sender):
        return None
    reset_at, _ = limiter.limiter.get_window_stats(item, _NAMESPACE, sender)
    return max(1, math.ceil(reset_at - time.time()))


def spend() -> None:
    """Count one test that went out against the current sender's budget."""
    if limiter.enabled and limiter.initialized:
        limiter.limiter.hit(_item(), _NAMESPACE, _sender())


def refusal() -> tuple[str, int] | None:
    """For the admin's forms: once the budget is spent, what to say beside the test form (in the staff
    member's language) and the seconds until another test may go (the page's Retry-After); else None."""
    wait = wait_seconds()
    if wait is None:
        return None
    return (
        gettext(
            "Test sends are limited to %(limit)s for each staff member. "
            "Please wait a while before sending another.",
            limit=limit_text(),
        ),
        wait,
    )


def too_many(response: Response, wait: int) -> Response:
    """The page that says the budget is spent, answered as 429 Too Many Requests with Retry-After."""
    response.status_code = 429
    response.headers["Retry-After"] = str(wait)
    return response
