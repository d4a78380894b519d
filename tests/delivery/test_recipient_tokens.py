"""Recipient-link tokens in the compact HMAC format, and the itsdangerous tokens of mail already sent
(I1-I4)."""

import time

import pytest

from mailer.core import urls as recipient_links
from mailer.core.security import TokenExpired, TokenInvalid, make_token, read_token
from tests.support.signup import signed_at

PAYLOADS = {
    "unsubscribe": ["contactPublicId0001", "listPublicId00001", "campaignPublicId01"],
    "preferences": "contactPublicId0001",
    "open": ["campaignPublicId01", "contactPublicId0001"],
    "click": ["campaignPublicId01", "contactPublicId0001", 42],
}


@pytest.mark.parametrize("purpose", sorted(PAYLOADS))
def test_new_tokens_round_trip_and_old_tokens_still_verify(app, app_ctx, purpose):
    payload = PAYLOADS[purpose]
    token = make_token(purpose, payload)
    assert token.startswith("m") and read_token(purpose, token, max_age=60) == payload
    old = signed_at(app.config["SECRET_KEY"], purpose, payload, time.time() - 60)  # as sent before the change
    assert not old.startswith("m") and read_token(purpose, old, max_age=3600) == payload
    for other in set(PAYLOADS) - {purpose}:  # purposes are separated
        with pytest.raises(TokenInvalid):
            read_token(other, token)


@pytest.mark.parametrize("purpose", sorted(PAYLOADS))
def test_tampered_tokens_are_invalid(app_ctx, purpose):
    token = make_token(purpose, PAYLOADS[purpose])
    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    for bad in (
        flipped,
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        token.replace(".", "", 1),
        token + ".",
        "m",
        "m.",
        "m" + "x" * 40,
    ):
        with pytest.raises(TokenInvalid):
            read_token(purpose, bad)


def test_null_list_and_campaign_survive(app_ctx):
    token = make_token("unsubscribe", ["contactPublicId0001", None, None])
    assert read_token("unsubscribe", token) == ["contactPublicId0001", None, None]


def test_expired_tokens_still_say_what_they_were(app_ctx, monkeypatch):
    token = recipient_links.open_pixel_url("contactPublicId0001", "campaignPublicId01").rsplit("/", 1)[1]
    later = time.time() + 7200
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(TokenExpired) as expired:
        read_token("open", token, max_age=3600)
    assert expired.value.payload == ["campaignPublicId01", "contactPublicId0001"]
    assert read_token("open", token, max_age=86400) == ["campaignPublicId01", "contactPublicId0001"]


def test_rotated_secret_key_still_verifies_and_unknown_keys_do_not(app, app_ctx):
    token = make_token("click", PAYLOADS["click"])
    config = app.config
    old_key = config["SECRET_KEY"]
    config["SECRET_KEY"], config["SECRET_KEY_FALLBACKS"] = "a-brand-new-key", [old_key]
    try:
        assert read_token("click", token) == PAYLOADS["click"]
        assert read_token("click", make_token("click", PAYLOADS["click"])) == PAYLOADS["click"]
        config["SECRET_KEY_FALLBACKS"] = []
        with pytest.raises(TokenInvalid):
            read_token("click", token)
    finally:
        config["SECRET_KEY"], config["SECRET_KEY_FALLBACKS"] = old_key, []


def test_a_link_part_is_bound_to_its_campaign(app_ctx):
    mine = recipient_links.click_url("contactPublicId0001", "campaignPublicId01", 7).rsplit("/", 1)[1]
    theirs = recipient_links.click_url("contactPublicId0001", "campaignPublicId02", 7).rsplit("/", 1)[1]
    spliced = mine.rsplit(".", 1)[0] + "." + theirs.rsplit(".", 1)[1]
    with pytest.raises(TokenInvalid):
        read_token("click", spliced)
    assert read_token("click", mine) == ["campaignPublicId01", "contactPublicId0001", 7]


def test_campaign_links_match_the_single_functions(app_ctx):
    links = recipient_links.CampaignLinks("campaignPublicId01", [3, 9])
    urls = links.click_urls("contactPublicId0001")
    assert sorted(urls) == [3, 9]
    for link_id, url in urls.items():
        assert read_token("click", url.rsplit("/", 1)[1]) == [
            "campaignPublicId01",
            "contactPublicId0001",
            link_id,
        ]
    unsubscribe = links.unsubscribe_url("contactPublicId0001", "listPublicId00001").rsplit("/", 1)[1]
    assert read_token("unsubscribe", unsubscribe) == PAYLOADS["unsubscribe"]
    assert (
        read_token("preferences", links.preferences_url("contactPublicId0001").rsplit("/", 1)[1])
        == "contactPublicId0001"
    )
    assert (
        read_token("open", links.open_pixel_url("contactPublicId0001").rsplit("/", 1)[1]) == PAYLOADS["open"]
    )


def test_tokens_carry_public_ids_only(app_ctx):
    with pytest.raises(ValueError):
        make_token("preferences", "ann@example.com\x1fforged")
    with pytest.raises(ValueError):
        make_token("open", ["campaignPublicId01", ""])
