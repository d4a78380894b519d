"""Every public endpoint that takes an address answers the same, no sooner than one floor, whether the address
is known or not (J3): /confirm/resend, /p, the sign-up forms and the API sign-up share `with_response_floor`,
and the address lookups of /confirm/resend and /p run in a worker, so nothing address-dependent is left to
time."""

import statistics
import time

import pytest

from mailer.api.subscriptions import subscriptions_create
from mailer.embed.views import submit
from mailer.public.preferences import preferences_request_post
from mailer.public.privacy import privacy_request_submit
from mailer.public.views import confirm_resend
from tests.embed.test_enumeration import _answer
from tests.public.recipients import news_list, subscribed_contact
from tests.support.signup import sign_up

FLOOR_MS = 150
ROUNDS = 7
# Known and unknown addresses may differ by scheduling noise, never by the work done for a known one: without
# the floor and the worker, their medians differed by over a millisecond on an idle machine (2.8 vs 4.0 ms).
TOLERANCE_S = 0.040


def _timed(client, url: str, email: str, round_: int):
    """One POST from its own address (each client IP has a
    small hourly budget here); its answer and duration."""
    started = time.perf_counter()
    response = client.post(
        url, data={"email": email}, environ_base={"REMOTE_ADDR": f"198.51.100.{round_ + 1}"}
    )
    return response, time.perf_counter() - started


def _compare(app, client, url: str, known: str, unknown: str):
    """Known and unknown addresses alternately, so a busy moment of the machine hits both alike."""
    app.config["SIGNUP_RESPONSE_FLOOR_MS"] = FLOOR_MS  # only now: setting the scene needs no padding
    answers, timings = {"known": set(), "unknown": set()}, {"known": [], "unknown": []}
    for round_ in range(ROUNDS):
        order = [("known", known), ("unknown", unknown)]
        for state, email in order if round_ % 2 else reversed(order):
            response, took = _timed(client, url, email, round_)
            status, headers, body = _answer(response)
            answers[state].add((status, tuple(headers), body))
            timings[state].append(took)
    assert answers["known"] == answers["unknown"] and len(answers["known"]) == 1, answers
    assert min(timings["known"] + timings["unknown"]) >= FLOOR_MS / 1000, timings
    # Paired by round (the two requests of a round ran back to back), so load on the machine cancels out.
    gap = statistics.median(k - u for k, u in zip(timings["known"], timings["unknown"], strict=False))
    assert abs(gap) < TOLERANCE_S, (gap, timings)
    return answers["known"].pop()


@pytest.mark.config(CONFIRM_EMAIL_PER_ADDRESS="100 per hour")
def test_confirm_resend_answers_alike_and_no_sooner_than_the_floor(app, client, demo_form):
    sign_up(client, email="pending@example.com")  # a pending sign-up: the case that sends a fresh email
    status, _, _ = _compare(app, client, "/confirm/resend", "pending@example.com", "nobody@example.com")
    assert status == 303


@pytest.mark.config(PREFERENCES_LINK_PER_ADDRESS="100 per hour")
def test_preference_link_request_answers_alike_and_no_sooner_than_the_floor(app, app_ctx, client):
    subscribed_contact("ann@example.com", [news_list()], name="Ann")
    status, _, body = _compare(app, client, "/p", "ann@example.com", "nobody@example.com")
    assert status == 200 and b"<html" in body.lower()


def test_a_bad_address_is_refused_clearly_and_also_after_the_floor(app, client):
    app.config["SIGNUP_RESPONSE_FLOOR_MS"] = FLOOR_MS
    for url in ("/confirm/resend", "/p"):
        response, took = _timed(client, url, "not an address", 0)
        assert response.status_code == 400 and b"look like an email address" in response.data
        assert took >= FLOOR_MS / 1000


def _wears_the_floor(view) -> bool:
    while view is not None:
        if view.__code__.co_name == "floored":
            return True
        view = getattr(view, "__wrapped__", None)  # through the rate limiter's and the route's wrappers
    return False


def test_every_public_address_endpoint_wears_the_one_floor():
    """One rule, not copies: each door that takes an address is wrapped by the same decorator."""
    for view in (
        confirm_resend,
        preferences_request_post,
        submit,
        subscriptions_create,
        privacy_request_submit,
    ):
        assert _wears_the_floor(view), view.__name__
