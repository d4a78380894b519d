"""Recipient URLs come from one table that matches the public routes; mail links to a public http base URL are
refused (REQUIREMENTS A1: the List-Unsubscribe URL is https)."""

import pytest

from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns.rendering import CampaignError
from mailer.core import urls
from mailer.core.security import read_token
from mailer.core.urls import RECIPIENT_URLS, RecipientLink, insecure_links_problem, recipient_url
from tests.support.campaigns import newsletter


def test_every_table_entry_is_the_route_of_its_endpoint(app):
    rules = {rule.endpoint: rule.rule for rule in app.url_map.iter_rules()}
    for link, route in RECIPIENT_URLS.items():
        assert rules[route.endpoint] == f"{route.path}<token>", link
    assert set(RECIPIENT_URLS) == set(RecipientLink)


@pytest.mark.config(MAILER_BASE_URL="https://mail.example.com")
def test_each_url_carries_a_token_of_its_own_purpose(app, app_ctx):
    contact, mailing_list, campaign = "contactPublicId0001", "listPublicId00001", "campaignPublicId01"
    payloads = {
        RecipientLink.UNSUBSCRIBE: [contact, mailing_list, campaign],
        RecipientLink.ONE_CLICK: [contact, mailing_list, campaign],
        RecipientLink.OPEN: [campaign, contact],
        RecipientLink.CLICK: [campaign, contact, 7],
    }
    for link, route in RECIPIENT_URLS.items():
        payload = payloads.get(link, contact)
        url = recipient_url(link, payload)
        assert url.startswith(f"https://mail.example.com{route.path}")
        assert read_token(route.purpose, url.rsplit("/", 1)[1]) == payload, link
    links = urls.CampaignLinks(campaign, [7])  # the campaign's fast builder: the same table, the same tokens
    made = {
        RecipientLink.ONE_CLICK: links.unsubscribe_url(contact, mailing_list),
        RecipientLink.OPEN: links.open_pixel_url(contact),
        RecipientLink.CLICK: links.click_urls(contact)[7],
        RecipientLink.PREFERENCES: links.preferences_url(contact),
    }
    for link, url in made.items():
        route = RECIPIENT_URLS[link]
        prefix, token = url.rsplit("/", 1)
        assert prefix + "/" == f"https://mail.example.com{route.path}"
        assert read_token(route.purpose, token) == payloads.get(link, contact), link


@pytest.mark.parametrize(
    "base,refused",
    [
        ("https://mail.example.com", False),
        ("http://localhost:5000", False),  # a developer's machine: the links work nowhere else anyway
        ("http://127.0.0.1:5000", False),
        ("http://mail.example.com", True),
        ("ftp://mail.example.com", True),
    ],
)
def test_only_https_or_loopback_base_urls_may_go_into_mail(base, refused):
    assert bool(insecure_links_problem(base)) is refused


@pytest.mark.config(MAILER_BASE_URL="http://mail.example.com", MAILER_POSTAL_ADDRESS="1 Main St, Berlin")
def test_a_campaign_with_a_public_http_base_url_is_refused_and_sends_nothing(
    app, app_ctx, worker, smtp_server
):
    campaign, contacts = newsletter(2)
    with pytest.raises(CampaignError, match="https://"):
        campaigns.start_campaign(campaign)
    with pytest.raises(CampaignError, match="RFC 8058"):
        campaigns.send_test(campaign, [contacts[0].email])
    worker.drain()
    assert smtp_server.messages == []
