"""Test sends and the sender name: a cap per staff member, no one-click header a POST can't act on (RFC 8058,
A7), and a From name holding an address refused when the draft is saved, not only when it is sent."""

import pytest
from sqlalchemy import select

from mailer.campaigns.models import Campaign
from mailer.core.extensions import db
from tests.admin.test_campaign_pages import draft, editor_fields, form_token
from tests.support.audience import subscriber
from tests.support.signup import page


def _send_test(client, campaign, addresses: str):
    show = f"/admin/campaigns/{campaign.public_id}"
    return client.post(f"{show}/test", data={"csrf_token": form_token(client, show), "addresses": addresses})


def test_a_test_to_a_non_contact_has_no_one_click_header_and_one_to_a_contact_keeps_it(
    auth, demo_form, smtp_server, worker
):
    subscriber(demo_form, "bob@example.com", name="Bob")
    campaign = draft(auth)
    assert _send_test(auth, campaign, "stranger@example.com, bob@example.com").status_code == 302
    worker.drain()
    [stranger] = smtp_server.to("stranger@example.com")
    [bob] = [m for m in smtp_server.to("bob@example.com") if m.message["Subject"].startswith("[TEST]")]
    assert stranger.message["Subject"].startswith("[TEST]") and stranger.message["X-Mailer-Test"] == "yes"
    assert stranger.message["List-Unsubscribe"] is None and stranger.message["List-Unsubscribe-Post"] is None
    # Bob is a contact: the header's POST can act on him, as it will in the real send.
    assert bob.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert bob.message["List-Unsubscribe"].startswith("<http")


@pytest.mark.config(TEST_SEND_RATE_LIMIT="2 per hour")
def test_test_sends_are_capped_per_staff_member(auth, demo_form, worker):
    campaign = draft(auth)
    assert _send_test(auth, campaign, "a@example.com").status_code == 302
    assert _send_test(auth, campaign, "not-an-address").status_code == 400  # refused ones don't count
    assert _send_test(auth, campaign, "b@example.com").status_code == 302
    refused = _send_test(auth, campaign, "c@example.com")
    assert refused.status_code == 429
    assert "Test sends are limited to 2 per hour for each staff member" in page(refused)


def test_at_most_ten_addresses_per_test_send(auth, demo_form):
    campaign = draft(auth)
    response = _send_test(auth, campaign, ", ".join(f"p{i}@example.com" for i in range(11)))
    assert response.status_code == 400 and "10 addresses at most" in page(response)


@pytest.mark.parametrize(
    "from_name",
    [
        '"support@bank.example"',
        "support@bank.example",
        "Bank <support@bank.example>",
        "support\uff20bank.example",
    ],
)
def test_a_from_name_holding_an_address_is_refused_when_saved(auth, demo_form, from_name):
    response = auth.post("/admin/campaigns/new", data=editor_fields(auth, from_name=from_name))
    assert response.status_code == 400
    assert "The sender name can't contain an email address" in page(response)
    assert db.session.execute(select(Campaign)).first() is None


def test_an_ordinary_from_name_is_kept(auth, demo_form):
    campaign = draft(auth, from_name="Demo Shop — News & Offers")
    assert campaign.from_name == "Demo Shop — News & Offers"
