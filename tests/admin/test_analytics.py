"""Stats on a seeded campaign and list: the numbers a marketer sees, computed through the real endpoints."""

import json
import re
from html import unescape

import pytest
from sqlalchemy import select

from mailer.analytics import campaigns as analytics
from mailer.analytics import lists as list_analytics
from mailer.campaigns.models import Campaign
from mailer.consent.ledger import RequestContext, record_consent
from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from mailer.delivery.models import Delivery
from mailer.tracking import events as tracking
from tests.public.recipients import (
    click_path,
    news_list,
    open_path,
    sent_campaign,
    subscribed_contact,
    tracking_purposes,
    unsubscribe_path,
)

BROWSER = {
    "User-Agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Version/17.0 "
    "Safari/605.1.15"
}
APPLE_PROXY = {"User-Agent": "Mozilla/5.0"}


pytestmark = pytest.mark.config(TRACKING_MACHINE_SECONDS=0)  # the seeded opens come right after the send


@pytest.fixture
def seeded(app, app_ctx):
    """Five recipients of one campaign; engagement arrives
    through the public endpoints, as people would cause it.

    ann: open+click consent; bob: open only; cat: no tracking (unsubscribes through the campaign's link);
    dan: open+click, but his message bounced; eve: agreed to open tracking only after the send (so her message
    had no pixel, and she is not among the consenting recipients).
    """
    news = news_list("News")
    tracking_purposes()
    ann = subscribed_contact("ann@example.com", [news], tracking=("open", "click"))
    bob = subscribed_contact("bob@example.com", [news], tracking=("open",))
    cat = subscribed_contact("cat@example.com", [news])
    dan = subscribed_contact("dan@example.com", [news], tracking=("open", "click"))
    eve = subscribed_contact("eve@example.com", [news])
    sent = sent_campaign(news, [ann, bob, cat, dan, eve], sent_minutes_ago=0)
    dan_delivery = db.session.execute(select(Delivery).where(Delivery.contact_id == dan.id)).scalar_one()
    dan_delivery.status = "bounced"
    record_consent(eve, tracking_purposes()["open"], "granted", RequestContext("preference-centre"))
    db.session.commit()

    client = app.test_client()
    campaign, (link1, link2) = sent.campaign, sent.links
    for contact, headers in [
        (ann, BROWSER),
        (ann, BROWSER),
        (ann, APPLE_PROXY),
        (bob, BROWSER),
        (cat, BROWSER),
    ]:
        assert client.get(open_path(app, contact, campaign), headers=headers).status_code == 200
    for link in (link1, link1, link2):
        assert client.get(click_path(app, ann, campaign, link), headers=BROWSER).status_code == 302
    assert (
        client.get(click_path(app, bob, campaign, link2), headers=BROWSER).status_code == 302
    )  # no click consent
    assert (
        client.post(
            unsubscribe_path(app, cat, news, campaign), data={"List-Unsubscribe": "One-Click"}
        ).status_code
        == 200
    )
    tracking.flush_events()
    return {"list": news, "campaign": campaign, "links": (link1, link2)}


def test_campaign_numbers(seeded):
    stats = analytics.campaign_stats(seeded["campaign"])
    assert (stats.delivered, stats.bounced, stats.unsubscribed, stats.complaints) == (4, 1, 1, 0)
    opens, clicks = stats.opens, stats.clicks
    # ann and bob consented before the send; eve only afterwards (and is counted nowhere).
    assert (opens.consenting, opens.delivered, opens.unique_human, opens.total_human) == (2, 4, 2, 3)
    assert (opens.unique_machine, opens.total_machine) == (1, 1)
    assert opens.consenting_share == 0.5 and opens.rate == 1.0
    assert (clicks.consenting, clicks.unique_human, clicks.total_human, clicks.total_machine) == (1, 1, 3, 0)
    link1, link2 = seeded["links"]
    assert [(row.url, row.unique_human, row.total_human) for row in stats.top_links] == [
        (link1.url, 1, 2),
        (link2.url, 1, 1),
    ]
    assert stats.series["unit"] == "hour"
    first = {ds["label"]: ds["data"][0] for ds in stats.series["datasets"]}
    assert first == {"Opens": 3, "Clicks": 3, "Machine-like opens": 1, "Machine-like clicks": 0}


def test_complaints_come_from_the_bounce_log(seeded):
    from mailer.deliverability.models import BounceEvent

    delivery = (
        db.session.execute(select(Delivery).where(Delivery.campaign_id == seeded["campaign"].id))
        .scalars()
        .first()
    )
    db.session.add_all(
        [
            BounceEvent(
                delivery_id=delivery.id,
                contact_id=delivery.contact_id,
                kind="complaint",
                campaign_id=seeded["campaign"].id,
                source="arf",
                status_code="abuse",
            ),
            BounceEvent(
                delivery_id=delivery.id,
                contact_id=delivery.contact_id,
                kind="hard",
                campaign_id=seeded["campaign"].id,
                status_code="5.1.1",
            ),
        ]
    )
    # The complaint handling also withdraws consent for the list: that is not counted as an unsubscribe.
    from mailer.contacts.models.contact import Contact
    from mailer.subscriptions.withdrawal import withdraw_list

    withdraw_list(
        db.session.get(Contact, delivery.contact_id),
        seeded["list"],
        RequestContext("complaint:arf"),
        {"list": seeded["list"].public_id, "campaign": seeded["campaign"].public_id, "reason": "complaint"},
    )
    db.session.commit()
    stats = analytics.campaign_stats(seeded["campaign"])
    assert (stats.complaints, stats.unsubscribed) == (1, 1)


def test_campaign_page_shows_the_consenting_share_and_a_table(auth, seeded):
    campaign = seeded["campaign"]
    page = auth.get(f"/admin/campaigns/{campaign.public_id}/stats")
    assert page.status_code == 200
    text = unescape(page.text)
    engagement = re.search(r'<table[^>]*id="engagement".*?</table>', text, re.S).group(0)
    opens_row = re.sub(
        r"<[^>]+>", " ", re.search(r"<tr><th scope=\"row\">Opens.*?</tr>", engagement, re.S).group(0)
    )
    assert " ".join(opens_row.split()) == "Opens 2 of 4 50.0 % 2 100.0 % 3 1 / 1"
    assert "among those people" in text
    chart = json.loads(re.search(r'data-chart="([^"]+)"', page.text).group(1).replace("&#34;", '"'))
    assert chart["datasets"][0]["label"] == "Opens"
    assert "vendor/chartjs-4.5.1/chart.umd.min.js" in page.text and "analytics.js" in page.text
    assert "<script>" not in page.text  # CSP: no inline script
    day = auth.get(f"/admin/campaigns/{campaign.public_id}/stats?unit=day")
    assert day.status_code == 200 and "Day (UTC)" in day.text


def test_a_sent_campaigns_page_links_to_its_stats(auth, seeded):
    campaign = seeded["campaign"]
    page = auth.get(f"/admin/campaigns/{campaign.public_id}")
    assert page.status_code == 200
    assert f'href="/admin/campaigns/{campaign.public_id}/stats"' in page.text


def test_list_growth_and_consent_coverage(auth, seeded):
    stats = list_analytics.list_stats(seeded["list"])
    assert stats.counts == {"confirmed": 4, "unsubscribed": 1}
    growth = {ds["label"]: ds["data"][-1] for ds in stats.growth["datasets"]}
    assert growth == {"Confirmed sign-ups": 5, "Unsubscribes": 1, "Subscribers": 4}
    assert {ds["label"]: ds["data"][-2] for ds in stats.growth["datasets"]}["Subscribers"] == 0
    coverage = {c.purpose.name: (c.granted, c.of) for c in stats.coverage}
    assert coverage == {"Open tracking": (4, 4), "Click tracking": (2, 4)}
    page = auth.get(f"/admin/lists/{seeded['list'].public_id}/stats")
    assert page.status_code == 200
    row = re.search(r"Click tracking</th>(.*?)</tr>", page.text, re.S).group(1)
    assert "2 of 4" in row and "50.0 %" in row


def test_stats_pages_for_nothing_sent_yet(auth, app_ctx):
    news = news_list("Empty")
    campaign = Campaign(name="Draft", subject="Draft")
    db.session.add(campaign)
    db.session.commit()
    page = auth.get(f"/admin/campaigns/{campaign.public_id}/stats")
    assert page.status_code == 200 and "not been sent yet" in page.text
    overview = auth.get("/admin/stats")
    assert overview.status_code == 200 and "No campaign has been sent yet" in overview.text
    assert f"/admin/lists/{news.public_id}/stats" in overview.text
    assert auth.get("/admin/campaigns/nope/stats").status_code == 404
    assert auth.get(f"/admin/lists/{news.public_id}/stats?days=abc").status_code == 200


def test_stats_need_a_login(client, app_ctx):
    response = client.get("/admin/stats")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_consent_withdrawn_after_the_send_still_counts_the_message_as_sent_with_consent(seeded):
    """Consenting recipients are judged by the ledger at the time of the send: ann withdrawing open tracking
    afterwards (her consent state is now newer than her message) leaves her counted; eve, who agreed only
    afterwards and then withdrew, stays uncounted."""
    contacts = {c.email: c for c in db.session.execute(select(Contact)).scalars()}
    opens_purpose = tracking_purposes()["open"]
    for email in ("ann@example.com", "eve@example.com"):
        record_consent(contacts[email], opens_purpose, "withdrawn", RequestContext("preference-centre"))
    db.session.commit()
    stats = analytics.campaign_stats(seeded["campaign"])
    assert (stats.opens.consenting, stats.clicks.consenting) == (2, 1)


def test_a_finished_campaigns_consent_counts_are_counted_once_and_kept(auth, seeded):
    """A finished campaign's consenting-when-sent counts (the denominators of its rates, over a million
    deliveries a scan of the ledger) are counted at the first view and kept; a change of what was delivered
    (a late bounce) counts them again."""
    from sqlalchemy import delete

    from mailer.analytics.models import ConsentSnapshot
    from mailer.consent.models import ConsentState

    campaign = seeded["campaign"]
    assert db.session.get(ConsentSnapshot, campaign.id) is None
    page = auth.get(f"/admin/campaigns/{campaign.public_id}/stats")
    assert page.status_code == 200 and "2 of 4" in unescape(page.text)
    db.session.expire_all()
    kept = db.session.get(ConsentSnapshot, campaign.id)
    assert (kept.delivered, kept.open_consenting, kept.click_consenting) == (4, 2, 1)
    # bob's consent states go (as an erasure removes them): the live count would drop, the kept one stands
    contacts = {c.email: c for c in db.session.execute(select(Contact)).scalars()}
    db.session.execute(delete(ConsentState).where(ConsentState.contact_id == contacts["bob@example.com"].id))
    db.session.commit()
    page = auth.get(f"/admin/campaigns/{campaign.public_id}/stats")
    assert "2 of 4" in unescape(page.text)
    # ann's message bounces late: what was delivered changed, so the counts are taken again (bob now unseen)
    ann = db.session.execute(
        select(Delivery).where(Delivery.contact_id == contacts["ann@example.com"].id)
    ).scalar_one()
    ann.status = "bounced"
    db.session.commit()
    stats = analytics.campaign_stats(campaign)
    db.session.commit()
    assert (stats.delivered, stats.opens.consenting, stats.clicks.consenting) == (3, 0, 0)
    db.session.expire_all()
    kept = db.session.get(ConsentSnapshot, campaign.id)
    assert (kept.delivered, kept.open_consenting, kept.click_consenting) == (3, 0, 0)


def test_a_sending_campaigns_consent_counts_are_counted_on_each_view(seeded):
    """Until every message is out, nothing is kept: the counts follow the deliveries as they go."""
    from mailer.analytics.models import ConsentSnapshot

    campaign = seeded["campaign"]
    campaign.status = "sending"
    db.session.commit()
    stats = analytics.campaign_stats(campaign)
    db.session.commit()
    assert (stats.opens.consenting, stats.clicks.consenting) == (2, 1)
    assert db.session.get(ConsentSnapshot, campaign.id) is None
