"""Bad input on POST /f/<slug>: a clear 4xx a person understands, never a 500, and nothing half-written."""

import time
import uuid

import pytest

from mailer.core.extensions import db
from mailer.subscriptions.forms import FormSettings, save_form
from mailer.subscriptions.lists import create_list
from tests.support.http import consent_values, form_timer
from tests.support.signup import BROWSER, hidden_value, page, queued_messages, row_counts, sign_up, signed_at

JSON = {"Accept": "application/json"}


@pytest.fixture
def aged_form(demo_form):
    """A form that asks people to confirm they are at least 16."""
    form = save_form(
        FormSettings(slug="teens", name="Teens", list_ids=[lst.id for lst in demo_form.lists], min_age=16)
    )
    db.session.commit()
    return form


@pytest.fixture
def shop_only(demo_form):
    """The demo form, restricted to being embedded on https://shop.example."""
    demo_form.allowed_origins = "https://shop.example"
    db.session.commit()
    return demo_form


def _list_box(client):
    return consent_values(client)[:1]


# (what is wrong, how to make the submission wrong, what the person is told, the field marked)
BAD_INPUT = [
    (
        "invalid address",
        lambda c: {"email": "ann.example.com"},
        "doesn't look like an email address",
        "email",
    ),
    (
        "address with two @",
        lambda c: {"email": "ann@@example.com"},
        "doesn't look like an email address",
        "email",
    ),
    ("empty address", lambda c: {"email": "   "}, "Please enter your email address", "email"),
    (
        "address too long",
        lambda c: {"email": "a" * 250 + "@example.com"},
        "email address is too long",
        "email",
    ),
    ("no box ticked", lambda c: {"consent": []}, "Please tick the box", "consent"),
    ("only tracking ticked", lambda c: {"consent": consent_values(c)[1:]}, "Please tick the box", "consent"),
    ("value not on the form", lambda c: {"consent": ["not-a-purpose"]}, "not on this form", "consent"),
    (
        "list ticked with a forged extra value",
        lambda c: {"consent": [*_list_box(c), "forged"]},
        "not on this form",
        "consent",
    ),
    ("name too long", lambda c: {"name": "N" * 201}, "name is too long", "name"),
    ("name with a NUL character", lambda c: {"name": "Ann\x00"}, "characters we can't store", "name"),
    ("name with ESC and BEL", lambda c: {"name": "Ann\x1b[2J\x07"}, "characters we can't store", "name"),
    ("name with a C1 control", lambda c: {"name": "Ann\x85Bcc"}, "characters we can't store", "name"),
]


@pytest.mark.parametrize("case, make_bad, message, field", BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_refused_with_a_clear_message_and_nothing_written(
    app, client, demo_form, case, make_bad, message, field
):
    before = row_counts()
    response = sign_up(client, **{"email": "ann@example.com", **make_bad(client)})
    assert response.status_code == 400
    assert message in page(response)
    assert 'id="form-error"' in page(response) and "is-invalid" in page(response)  # the form is shown again
    assert row_counts() == before and queued_messages(app) == 0

    as_json = client.post(
        "/f/demo",
        data={
            "email": "ann@example.com",
            "name": "Ann",
            "ts": form_timer(client),
            "consent": _list_box(client),
            **make_bad(client),
        },
        headers=JSON,
    )
    assert as_json.status_code == 400
    assert as_json.json["ok"] is False and message in as_json.json["error"] and as_json.json["field"] == field
    assert row_counts() == before and queued_messages(app) == 0


def test_entered_values_are_kept_when_the_form_is_shown_again(app, client, demo_form):
    response = sign_up(client, email="ann@example.com", name="Ann Example", consents=[])
    assert response.status_code == 400
    assert 'value="ann@example.com"' in page(response) and 'value="Ann Example"' in page(response)
    assert 'name="ts" value="' in page(response)  # a fresh fill timer, so pressing again works


def test_consent_of_a_list_from_another_form_is_refused(app, client, demo_form):
    other = create_list("Secret list")
    db.session.commit()
    before = row_counts()
    response = sign_up(client, consents=[other.purpose.public_id])
    assert response.status_code == 400 and "not on this form" in page(response)
    assert row_counts() == before


def test_age_confirmation_is_required_when_the_form_has_a_minimum_age(app, client, aged_form):
    assert "I am at least 16 years old." in page(client.get("/f/teens"))
    before = row_counts()
    response = sign_up(client, slug="teens")
    assert response.status_code == 400
    assert "Please confirm that you are at least 16 years old." in page(response)
    assert row_counts() == before
    accepted = sign_up(client, slug="teens", age="yes")
    assert accepted.status_code == 200 and "check your inbox" in page(accepted)


def test_oversized_body_gets_a_friendly_413(app, client, demo_form):
    before = row_counts()
    data = {
        "email": "ann@example.com",
        "ts": form_timer(client),
        "consent": _list_box(client),
        "name": "x" * (300 * 1024),
    }
    response = client.post("/f/demo", data=data)
    assert response.status_code == 413
    assert "What you sent is too large." in page(response) and "<html" in page(response)
    as_json = client.post("/f/demo", data=data, headers=JSON)
    assert as_json.status_code == 413 and as_json.json == {
        "ok": False,
        "error": "What you sent is too large.",
    }
    assert row_counts() == before


def test_one_oversized_field_within_the_body_limit_is_refused_clearly(app, client, demo_form):
    before = row_counts()
    response = client.post(
        "/f/demo",
        data={
            "email": "ann@example.com",
            "ts": form_timer(client),
            "consent": _list_box(client),
            "name": "x" * (200 * 1024),
        },
    )
    # werkzeug counts a url-encoded body against MAX_CONTENT_LENGTH only; either answer is clear
    assert (
        response.status_code == 400 and "The name is too long (200 characters at most)." in page(response)
    ) or (response.status_code == 413 and "What you sent is too large." in page(response))
    assert row_counts() == before


def test_a_flood_of_checkbox_values_is_refused_clearly(app, client, demo_form):
    before = row_counts()
    response = client.post(
        "/f/demo", data={"email": "ann@example.com", "ts": form_timer(client), "consent": ["x"] * 2000}
    )
    assert response.status_code in (400, 413)
    assert "not on this form" in page(response) or "too large" in page(response)
    assert row_counts() == before


@pytest.mark.parametrize("method", ["get", "post"])
def test_unknown_form_is_a_friendly_404(app, client, demo_form, method):
    for slug in ("nope", "Demo", "demo--x", "a" * 100, "%00"):
        response = getattr(client, method)(f"/f/{slug}", data={"email": "ann@example.com"})
        assert response.status_code == 404, slug
        assert "We couldn't find that page." in page(response)


def test_inactive_form_is_a_friendly_404(app, client, demo_form):
    ts, consents = form_timer(client), _list_box(client)
    demo_form.active = False
    db.session.commit()
    before = row_counts()
    assert client.get("/f/demo").status_code == 404
    response = client.post("/f/demo", data={"email": "ann@example.com", "ts": ts, "consent": consents})
    assert response.status_code == 404 and "We couldn't find that page." in page(response)
    assert row_counts() == before


def test_filled_honeypot_gets_the_success_answer_but_nothing_happens(app, client, demo_form, worker):
    genuine = sign_up(client, email="real@example.com")
    worker.drain()
    before = row_counts()
    bot = sign_up(client, email="bot@example.com", website="http://spam.example")
    assert bot.status_code == genuine.status_code == 200
    assert bot.data == genuine.data
    worker.drain()
    assert row_counts() == before  # no contact, no ledger event, no email


@pytest.mark.parametrize("ts", ["", "garbage", "eyJ0cyI6MX0.forged.signature"])
def test_missing_or_forged_fill_timer_asks_to_press_again(app, client, demo_form, ts):
    before = row_counts()
    response = sign_up(client, ts=ts)
    assert response.status_code == 400
    assert "please check your details and press the button once more" in page(response)
    assert row_counts() == before and queued_messages(app) == 0
    # The page shown again carries a fresh timer and the person's choices: pressing again works.
    again = client.post(
        "/f/demo",
        data={
            "email": "ann@example.com",
            "name": "Ann",
            "consent": _list_box(client),
            "ts": hidden_value(response.text, "ts"),
        },
        headers={"User-Agent": BROWSER},
    )
    assert again.status_code == 200 and "check your inbox" in page(again)


@pytest.mark.config(SIGNUP_MIN_FILL_SECONDS=3600)
def test_too_fast_submission_asks_to_press_again(app, client, demo_form):
    before = row_counts()
    response = sign_up(client)
    assert response.status_code == 400
    assert "press the button once more" in page(response)
    as_json = client.post(
        "/f/demo",
        data={"email": "ann@example.com", "ts": form_timer(client), "consent": _list_box(client)},
        headers=JSON,
    )
    assert as_json.status_code == 400 and "press the button once more" in as_json.json["error"]
    assert row_counts() == before and queued_messages(app) == 0


def test_fill_timer_older_than_a_day_asks_to_press_again(app, client, demo_form):
    stale = signed_at(
        app.config["SECRET_KEY"], "form-ts", int(time.time()) - 2 * 86400, time.time() - 2 * 86400
    )
    fresh = signed_at(app.config["SECRET_KEY"], "form-ts", int(time.time()) - 60, time.time() - 60)
    before = row_counts()
    assert sign_up(client, ts=stale).status_code == 400
    assert row_counts() == before
    assert sign_up(client, ts=fresh).status_code == 200  # the same kind of token, but fresh, is accepted


def test_origin_not_allowed_is_refused(app, client, shop_only):
    before = row_counts()
    response = sign_up(client, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert "This form can't be used from this website." in page(response)
    as_json = sign_up(client, headers={"Origin": "https://evil.example", **JSON})
    assert as_json.status_code == 403 and as_json.json["ok"] is False
    assert "Access-Control-Allow-Origin" not in as_json.headers
    cross_site = sign_up(client, headers={"Sec-Fetch-Site": "cross-site"})  # a browser that hid its Origin
    assert cross_site.status_code == 403
    assert row_counts() == before


def test_allowed_origins_may_use_the_form(app, client, shop_only):
    response = sign_up(client, email="a@example.com", headers={"Origin": "https://shop.example", **JSON})
    assert response.status_code == 200 and response.json["ok"] is True
    assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    own = sign_up(
        client, email="b@example.com", headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    )
    assert own.status_code == 200  # the hosted page itself
    preflight = client.options(
        "/f/demo", headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    refused = client.options("/f/demo", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in refused.headers


@pytest.mark.config(SIGNUP_RATE_LIMIT_IP="2 per 10 minutes")
def test_rate_limit_per_ip(app, client, demo_form):
    assert sign_up(client, email="a@example.com").status_code == 200
    assert sign_up(client, email="b@example.com").status_code == 200
    before = row_counts()
    response = sign_up(client, email="c@example.com")
    assert response.status_code == 429
    assert "Too many attempts in a short time. Please wait a few minutes and try again." in page(response)
    as_json = sign_up(client, email="c@example.com", headers=JSON)
    assert as_json.status_code == 429 and "Too many attempts" in as_json.json["error"]
    assert row_counts() == before
    other_ip = client.post(
        "/f/demo",
        data={"email": "c@example.com", "ts": form_timer(client), "consent": _list_box(client)},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert other_ip.status_code == 200  # the limit is per address of the browser, not for everyone


@pytest.mark.config(SIGNUP_RATE_LIMIT_GLOBAL="3 per hour")
def test_global_rate_limit(app, client, demo_form):
    ts, consents = form_timer(client), _list_box(client)
    codes = [
        client.post(
            "/f/demo",
            data={"email": f"p{i}@example.com", "ts": ts, "consent": consents},
            environ_base={"REMOTE_ADDR": f"192.0.2.{i}"},
        ).status_code
        for i in range(1, 5)
    ]
    assert codes == [200, 200, 200, 429]


@pytest.mark.config(SIGNUP_RATE_LIMIT_ADDRESS="1 per hour")
def test_rate_limit_per_address_answers_the_same_but_records_nothing_more(app, client, demo_form):
    first = sign_up(client, email="ann@example.com")
    before = row_counts()
    second = sign_up(client, email="ANN@example.com")
    assert second.status_code == 200 and second.data == first.data
    assert row_counts() == before


def test_one_confirmation_email_per_address_per_day(app, client, demo_form, worker, smtp_server):
    first = sign_up(client, email="ann@example.com")
    worker.drain()
    second = sign_up(client, email="Ann@Example.com", consents=consent_values(client))
    worker.drain()
    assert first.status_code == second.status_code == 200 and first.data == second.data
    assert len(smtp_server.to("ann@example.com")) == 1
    sign_up(client, email="bob@example.com")
    worker.drain()
    assert len(smtp_server.to("bob@example.com")) == 1  # the cap is per address, not global


@pytest.mark.config(CONFIRM_EMAIL_PER_DOMAIN="2 per hour")
def test_confirmation_emails_per_domain_are_capped(app, client, demo_form, worker, smtp_server):
    answers = {sign_up(client, email=f"{who}@victim.example").data for who in ("a", "b", "c")}
    sign_up(client, email="d@other.example")
    worker.drain()
    assert len(answers) == 1
    assert sorted(r for m in smtp_server.messages for r in m.rcpt_tos) == [
        "a@victim.example",
        "b@victim.example",
        "d@other.example",
    ]


@pytest.mark.config(CONFIRM_EMAIL_PER_DOMAIN="1 per hour")
def test_a_domain_cap_refusal_does_not_use_up_the_addresss_own_daily_email(
    app, client, demo_form, worker, smtp_server
):
    sign_up(client, email="a@victim.example")
    sign_up(client, email="b@victim.example")  # refused by the domain cap: b's own daily email stays unused
    worker.drain()
    with app.app_context():
        from limits import parse

        from mailer.contacts.operations import find_contact_by_email
        from mailer.subscriptions.operations import request_confirmation_email

        # The domain's hour is over (only the domain window is cleared; b's own window stays as it was).
        app.extensions["mailer.throttle"].clear(
            parse("1 per hour"), "mailer", "confirm-domain", "victim.example"
        )
        assert request_confirmation_email(find_contact_by_email("b@victim.example"))
    worker.drain()
    assert sorted(r for m in smtp_server.messages for r in m.rcpt_tos) == [
        "a@victim.example",
        "b@victim.example",
    ]


def test_rate_limit_counters_live_in_the_apps_redis_namespace(app, client, demo_form, backend):
    if backend != "postgres":
        pytest.skip("the embedded backend keeps rate limits in memory")
    import redis

    marker = f"2001:db8::{uuid.uuid4().hex[:4]}"  # a client address no other test uses
    client.post("/f/demo", data={"email": "ann@example.com"}, environ_base={"REMOTE_ADDR": marker})
    connection = redis.Redis.from_url(app.config["REDIS_URL"])
    keys = [k.decode() for k in connection.scan_iter(match=f"*{marker}*")]
    connection.close()
    assert keys and all(k.startswith(app.config["REDIS_NAMESPACE"]) for k in keys), keys


@pytest.mark.config(SIGNUP_RATE_LIMIT_IP="1 per 10 minutes")
def test_embed_script_on_an_allowed_site_can_read_the_rate_limit_answer(app, client, shop_only):
    shop = {"Origin": "https://shop.example", **JSON}
    assert sign_up(client, email="a@example.com", headers=shop).status_code == 200
    limited = sign_up(client, email="b@example.com", headers=shop)
    assert limited.status_code == 429 and "Too many attempts" in limited.json["error"]
    assert limited.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    elsewhere = sign_up(client, email="b@example.com", headers={"Origin": "https://evil.example", **JSON})
    assert "Access-Control-Allow-Origin" not in elsewhere.headers


def test_embed_script_can_read_the_too_large_answer(app, client, demo_form):
    response = client.post(
        "/f/demo",
        data={"email": "a@example.com", "name": "x" * (300 * 1024)},
        headers={"Origin": "https://blog.example", **JSON},
    )
    assert response.status_code == 413 and response.json["error"] == "What you sent is too large."
    assert (
        response.headers["Access-Control-Allow-Origin"] == "https://blog.example"
    )  # no allow-list: any site
