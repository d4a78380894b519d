"""The confirmation link: GET is safe, POST confirms once;
tokens are purpose-bound, expiring, rotatable, opaque."""

import time

import pytest
from sqlalchemy import select

from mailer.consent.models import ConsentState
from mailer.core.extensions import db
from mailer.core.security import make_token
from mailer.subscriptions.models.lists import Subscription
from mailer.subscriptions.signup import confirmation_token
from tests.support.http import confirm_link
from tests.support.signup import (
    contact_by_email,
    hidden_value,
    outbox_to,
    page,
    path_of,
    row_counts,
    sign_up,
    signed_at,
    token_payload,
)

DAY = 86400


def _snapshot() -> tuple:
    """Everything a confirmation could change."""
    counts = row_counts()
    subs = [
        (s.contact_id, s.list_id, s.status, s.confirmed_at)
        for s in db.session.execute(select(Subscription).order_by(Subscription.id)).scalars()
    ]
    states = [
        (s.contact_id, s.purpose_id, s.status, s.event_id)
        for s in db.session.execute(
            select(ConsentState).order_by(ConsentState.contact_id, ConsentState.purpose_id)
        ).scalars()
    ]
    return counts, subs, states


def _emailed_paths(app, email) -> list[str]:
    """The confirmation links of every message the outbox holds for an address, oldest first."""
    base = app.config["MAILER_BASE_URL"]
    return [path_of(confirm_link(m.raw, base), base) for m in outbox_to(email)]


@pytest.fixture
def ann(app, client, demo_form, worker):
    """Ann signed up on the demo form; her confirmation email is in the outbox. Returns the link's path."""
    sign_up(client, email="ann@example.com")
    worker.drain()
    [path] = _emailed_paths(app, "ann@example.com")
    return path


def _is_broken_link_page(response) -> bool:
    text = page(response)
    return (
        response.status_code == 404
        and "This link doesn't work" in text
        and 'action="/confirm/resend"' in text
        and 'name="email"' in text
    )


def test_get_changes_nothing_post_confirms_once(app, client, ann):
    before = _snapshot()
    for _ in range(2):
        shown = client.get(ann)
        assert shown.status_code == 200 and "Yes, confirm my subscription" in page(shown)
        assert "Demo newsletter" in page(shown)
    assert _snapshot() == before

    done = client.post(ann)
    assert done.status_code == 200 and "you're subscribed" in page(done) and "Demo newsletter" in page(done)
    after_confirm = _snapshot()
    assert [s[2] for s in after_confirm[1]] == ["confirmed"]

    again = client.post(ann)
    assert again.status_code == 200 and "Your subscription was already confirmed." in page(again)
    assert _snapshot() == after_confirm  # no second ledger event
    later = client.get(ann)
    assert later.status_code == 200 and "You're all set" in page(later) and "Yes, confirm" not in page(later)


@pytest.mark.parametrize("purpose", ["unsubscribe", "preferences", "resend", "form-ts", "setup"])
def test_token_of_another_purpose_does_not_confirm(app, client, ann, purpose):
    public_id = contact_by_email("ann@example.com").public_id
    forged = make_token(purpose, public_id)
    before = _snapshot()
    assert _is_broken_link_page(client.get(f"/confirm/{forged}"))
    posted = client.post(f"/confirm/{forged}")
    assert posted.status_code == 404 and "This link doesn't work" in page(posted)
    assert _snapshot() == before
    assert client.post(ann).status_code == 200  # while the genuine link still works


def _tampered(path: str) -> list[str]:
    token = path.rsplit("/", 1)[1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

    def flip(
        s, i
    ):  # change the character's high bits (the last one's low bits are padding, ignored when decoding)
        return s[:i] + alphabet[(alphabet.index(s[i]) + 32) % 64] + s[i + 1 :]

    return [
        flip(token, len(token) - 1),
        flip(token, 2),
        token[:-6],
        token + "x",
        token.split(".")[0],
        "x" * 600,
        "not-a-token",
    ]


def test_tampered_link_gets_a_friendly_page_that_offers_a_new_email(app, client, ann):
    before = _snapshot()
    for token in _tampered(ann):
        assert _is_broken_link_page(client.get(f"/confirm/{token}")), token
        assert client.post(f"/confirm/{token}").status_code == 404
    assert _snapshot() == before


@pytest.mark.config(CONFIRM_EMAIL_PER_ADDRESS="2 per 24 hours")
def test_resend_form_on_the_broken_link_page_sends_a_working_link(app, client, ann, worker):
    asked = client.post("/confirm/resend", data={"email": " Ann@Example.com "})
    assert asked.status_code == 303 and asked.headers["Location"].endswith("/confirm/resent")
    assert "Check your inbox" in page(client.get("/confirm/resent"))
    worker.drain()
    _first, second = _emailed_paths(app, "ann@example.com")
    assert client.post(second).status_code == 200
    assert _snapshot()[1][0][2] == "confirmed"


def test_resend_form_answers_the_same_for_unknown_addresses_and_checks_the_input(app, client, ann, worker):
    unknown = client.post("/confirm/resend", data={"email": "nobody@example.com"})
    capped = client.post("/confirm/resend", data={"email": "ann@example.com"})  # 1 per 24 hours by default
    assert unknown.status_code == capped.status_code == 303 and unknown.data == capped.data
    worker.drain()
    assert outbox_to("nobody@example.com") == [] and len(outbox_to("ann@example.com")) == 1
    bad = client.post("/confirm/resend", data={"email": "not an address"})
    assert bad.status_code == 400 and "doesn't look like an email address" in page(bad)


def _expired_link(app, email, age_seconds) -> str:
    public_id = contact_by_email(email).public_id
    return "/confirm/" + signed_at(app.config["SECRET_KEY"], "confirm", public_id, time.time() - age_seconds)


def test_a_freshly_signed_token_of_our_own_making_works(app, client, ann):
    """Sanity check for the expiry tests below: signed_at() makes the same tokens the app does."""
    shown = client.get(_expired_link(app, "ann@example.com", 60))
    assert shown.status_code == 200 and "Yes, confirm my subscription" in page(shown)


@pytest.mark.config(CONFIRM_EMAIL_PER_ADDRESS="2 per 24 hours")
def test_expired_link_offers_a_new_email_that_works(app, client, ann, worker):
    expired = _expired_link(app, "ann@example.com", 8 * DAY)
    before = _snapshot()
    shown = client.get(expired)
    assert shown.status_code == 410
    assert "This link has expired" in page(shown) and "Send me a new confirmation email" in page(shown)
    posted = client.post(expired)
    assert posted.status_code == 410 and "Send me a new confirmation email" in page(posted)
    assert _snapshot() == before

    resend = hidden_value(shown.text, "resend")
    assert token_payload(resend) == contact_by_email("ann@example.com").public_id  # opaque id, no address
    asked = client.post("/confirm/resend", data={"resend": resend})
    assert asked.status_code == 303 and asked.headers["Location"].endswith("/confirm/resent")
    worker.drain()
    _first, second = _emailed_paths(app, "ann@example.com")
    done = client.post(second)
    assert done.status_code == 200 and "you're subscribed" in page(done)


def test_expired_link_resend_respects_the_daily_cap(app, client, ann, worker):
    shown = client.get(_expired_link(app, "ann@example.com", 8 * DAY))
    asked = client.post("/confirm/resend", data={"resend": hidden_value(shown.text, "resend")})
    assert asked.status_code == 303
    worker.drain()
    assert len(outbox_to("ann@example.com")) == 1  # the sign-up's email was sent less than 24 hours ago


@pytest.mark.config(CONFIRM_TOKEN_MAX_AGE=3600)
def test_confirm_token_max_age_is_configurable(app, client, ann):
    assert client.get(_expired_link(app, "ann@example.com", 2 * 3600)).status_code == 410
    assert client.get(_expired_link(app, "ann@example.com", 30 * 60)).status_code == 200


def test_default_link_lifetime_is_seven_days(app, client, ann):
    assert client.get(_expired_link(app, "ann@example.com", 6 * DAY)).status_code == 200
    assert client.get(_expired_link(app, "ann@example.com", 7 * DAY + 60)).status_code == 410


@pytest.mark.config(SECRET_KEY="the-new-key", SECRET_KEY_FALLBACKS=["the-old-key"])
def test_links_signed_before_a_key_rotation_still_work(app, client, ann):
    public_id = contact_by_email("ann@example.com").public_id
    unknown = signed_at("some-other-key", "confirm", public_id, time.time())
    assert _is_broken_link_page(client.get(f"/confirm/{unknown}"))
    assert client.post(f"/confirm/{unknown}").status_code == 404

    old = signed_at("the-old-key", "confirm", public_id, time.time())
    assert client.get(f"/confirm/{old}").status_code == 200
    done = client.post(f"/confirm/{old}")
    assert done.status_code == 200 and "you're subscribed" in page(done)


@pytest.mark.config(SECRET_KEY="the-new-key", SECRET_KEY_FALLBACKS=["the-old-key"])
def test_new_links_are_signed_with_the_newest_key(app, client, ann):
    from itsdangerous import BadSignature, URLSafeTimedSerializer

    token = ann.rsplit("/", 1)[1]
    assert URLSafeTimedSerializer("the-new-key", salt="mailer.confirm").loads(token)
    with pytest.raises(BadSignature):
        URLSafeTimedSerializer("the-old-key", salt="mailer.confirm").loads(token)


def _address_forms(address: str) -> set[str]:
    """The address as it would appear in a token: plain, or base64 (standard or URL-safe) at any of the three
    alignments (the middle of the encoding, which does not depend on the bytes around it)."""
    import base64

    forms = {address, address.lower()}
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * shift + address.encode()).decode()
            forms.add(encoded[4:-4])
    return forms


def test_tokens_carry_an_opaque_id_and_no_address(app, client, ann):
    contact = contact_by_email("ann@example.com")
    token = ann.rsplit("/", 1)[1]
    assert token_payload(token) == contact.public_id
    assert token_payload(confirmation_token(contact)) == contact.public_id
    assert not any(form in token for form in _address_forms("ann@example.com"))
    assert str(contact.id) != contact.public_id and len(contact.public_id) >= 20  # not a guessable row id
