"""No enumeration (J3): a sign-up answers the same whatever
the address's state; suppression ends only by DOI (J4)."""

import time

import pytest
from sqlalchemy import select

from mailer.contacts.operations import email_hash
from mailer.contacts.suppression import is_suppressed, suppress
from mailer.core.extensions import db
from mailer.subscriptions.models.lists import Subscription
from mailer.subscriptions.signup import confirmation_token
from tests.support.http import confirm_link, consent_values, form_timer
from tests.support.signup import contact_by_email, path_of, sign_up

FLOOR_MS = 200
REPEATS = 2
# Headers that may differ between answers without saying anything about the address.
VARYING_HEADERS = {"Date", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Limit", "Retry-After"}


def _confirm(client, email):
    token = confirmation_token(contact_by_email(email))
    assert client.post(f"/confirm/{token}").status_code == 200


def _subscription(email) -> Subscription:
    return db.session.execute(
        select(Subscription).where(Subscription.contact_id == contact_by_email(email).id)
    ).scalar_one()


@pytest.fixture
def known_addresses(app, client, demo_form):
    """One address in every state a sign-up can meet."""
    sign_up(client, email="pending@example.com")
    sign_up(client, email="confirmed@example.com")
    _confirm(client, "confirmed@example.com")
    sign_up(client, email="left@example.com")
    _confirm(client, "left@example.com")
    _subscription("left@example.com").status = "unsubscribed"
    suppress(email_hash("left@example.com"), "unsubscribed")
    suppress(email_hash("erased@example.com"), "erased")  # only the keyed hash is left of this person
    sign_up(client, email="restricted@example.com")
    contact_by_email("restricted@example.com").status = "restricted"
    db.session.commit()
    return {
        "new": "new@example.com",
        "pending": "pending@example.com",
        "confirmed": "confirmed@example.com",
        "suppressed after unsubscribing": "left@example.com",
        "suppressed after erasure": "erased@example.com",
        "restricted": "restricted@example.com",
    }


def _answer(response) -> tuple:
    headers = sorted((k, v) for k, v in response.headers.items() if k not in VARYING_HEADERS)
    return response.status_code, headers, response.data


@pytest.mark.config(SIGNUP_RATE_LIMIT_IP="100 per 10 minutes")
def test_same_answer_and_timing_floor_whatever_the_address(app, client, known_addresses):
    consents = consent_values(client)[:1]
    # The floor must exceed the real work; on a busy machine that can take longer than FLOOR_MS, so measure
    # it.
    started = time.perf_counter()
    sign_up(client, email="warm-up@example.com")
    floor = max(FLOOR_MS / 1000, (time.perf_counter() - started) * 3)
    app.config["SIGNUP_RESPONSE_FLOOR_MS"] = int(floor * 1000)  # only now: setting the scene needs no padding
    answers, timings = {}, {}
    for state, email in known_addresses.items():
        data = {
            "email": email,
            "name": "Someone",
            "consent": consents,
            "ts": form_timer(client),
            "website": "",
        }
        for attempt in range(
            REPEATS
        ):  # the fastest of a few tries: a busy machine stalls single requests at random
            if state == "new":
                data["email"] = f"new-{attempt}@example.com"  # still unknown at every try
            started = time.perf_counter()
            response = client.post("/f/demo", data=data, headers={"User-Agent": "TestBrowser/1.0"})
            timings[state] = min(timings.get(state, 99), time.perf_counter() - started)
            answers.setdefault(state, _answer(response))
    assert answers["new"][0] == 200 and b"check your inbox" in answers["new"][2]
    assert "Set-Cookie" not in dict(answers["new"][1])
    for state, answer in answers.items():
        assert answer == answers["new"], f"the answer for a {state} address differs from a new one"
    assert all(t >= floor for t in timings.values()), (floor, timings)
    assert max(timings.values()) - min(timings.values()) < 0.150, (floor, timings)


def test_same_json_answer_whatever_the_address(app, client, known_addresses):
    consents = consent_values(client)[:1]
    answers = {}
    for state, email in known_addresses.items():
        data = {"email": email, "consent": consents, "ts": form_timer(client)}
        answers[state] = _answer(client.post("/f/demo", data=data, headers={"Accept": "application/json"}))
    assert answers["new"][0] == 200
    for state, answer in answers.items():
        assert answer == answers["new"], f"the JSON answer for a {state} address differs from a new one"


def test_bot_answer_is_the_same_as_a_person_s(app, client, known_addresses):
    person = sign_up(client, email="new@example.com")
    bot = sign_up(client, email="confirmed@example.com", website="https://spam.example")
    assert _answer(bot) == _answer(person)


def _sign_up_and_confirm_by_email(app, client, worker, smtp_server, email):
    sign_up(client, email=email)
    worker.drain()
    [received] = smtp_server.to(email)
    path = path_of(confirm_link(received.data, app.config["MAILER_BASE_URL"]), app.config["MAILER_BASE_URL"])
    assert is_suppressed(email_hash(email)), "a sign-up alone must not lift a suppression"
    assert client.get(path).status_code == 200
    assert is_suppressed(email_hash(email)), "opening the link must not lift a suppression"
    assert client.post(path).status_code == 200
    db.session.expire_all()
    assert not is_suppressed(email_hash(email))
    assert _subscription(email).status == "confirmed"


# The earlier history of these addresses happens within the test, so the daily cap must allow the second
# email.
@pytest.mark.config(CONFIRM_EMAIL_PER_ADDRESS="2 per 24 hours")
def test_unsubscribed_and_suppressed_address_comes_back_only_by_double_opt_in(
    app, client, demo_form, worker, smtp_server
):
    sign_up(client, email="left@example.com")
    _confirm(client, "left@example.com")
    worker.drain()
    smtp_server.messages.clear()
    _subscription("left@example.com").status = "unsubscribed"
    suppress(email_hash("left@example.com"), "unsubscribed")
    db.session.commit()
    _sign_up_and_confirm_by_email(app, client, worker, smtp_server, "left@example.com")


def test_erased_address_comes_back_only_by_double_opt_in(app, client, demo_form, worker, smtp_server):
    suppress(email_hash("gone@example.com"), "erased")
    db.session.commit()
    _sign_up_and_confirm_by_email(app, client, worker, smtp_server, "gone@example.com")


@pytest.mark.config(CONFIRM_EMAIL_PER_ADDRESS="2 per 24 hours")
def test_bounced_subscriber_comes_back_only_by_double_opt_in(app, client, demo_form, worker, smtp_server):
    """Still confirmed on the list, but suppressed (e.g. a
    hard bounce): signing up again must offer a fresh DOI."""
    sign_up(client, email="bounced@example.com")
    _confirm(client, "bounced@example.com")
    worker.drain()
    smtp_server.messages.clear()
    suppress(email_hash("bounced@example.com"), "hard_bounce")
    db.session.commit()
    _sign_up_and_confirm_by_email(app, client, worker, smtp_server, "bounced@example.com")
