"""The consenting recipients of a campaign (the denominators of its open and click rates) are the consent each
message was sent with, kept on the delivery as the worker hands it to the relay and counted by the counter
table: after a real send over SMTP the stats page reads them without the ledger (issue 13: 2.6–3.2 s at a
million deliveries), and they are the numbers the ledger gives for the time of the send."""

from collections import Counter

import pytest
from sqlalchemy import select, text

from mailer.analytics import campaigns as analytics
from mailer.analytics.models import ConsentSnapshot
from mailer.campaigns import lifecycle as campaigns
from mailer.consent.ledger import RequestContext, record_consent
from mailer.core import counters
from mailer.core.extensions import db
from mailer.delivery.models import TRACKED_CLICKS, TRACKED_OPENS, Delivery
from mailer.subscriptions.lists import create_list, ensure_tracking_purposes
from tests.support.campaigns import make_campaign, subscriber

pytestmark = pytest.mark.config(SEND_RATE_PER_SECOND=0)


def test_a_sent_campaign_keeps_the_tracking_consent_each_message_went_with(app, auth, worker, smtp_server):
    with app.app_context():
        opens = {purpose.key: purpose for purpose in ensure_tracking_purposes()}["tracking:open"]
        news = create_list("News")
        people = {
            "ann@example.net": ("tracking:open", "tracking:click"),
            "bob@example.net": ("tracking:open",),
            "cat@example.net": (),
            "dan@example.net": ("tracking:click",),
            "eve@example.net": (),
        }
        contacts = {email: subscriber(news, email, tracking=kinds) for email, kinds in people.items()}
        campaign = make_campaign([news], track_opens=True, track_clicks=True)
        db.session.commit()
        campaigns.start_campaign(campaign)
        db.session.commit()
        worker.drain()
        assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == sorted(people)

        kept = {
            d.contact_id: d.tracking
            for d in db.session.execute(select(Delivery).where(Delivery.campaign_id == campaign.id)).scalars()
        }
        expected = {
            contacts[email].id: (TRACKED_OPENS if "tracking:open" in kinds else 0)
            | (TRACKED_CLICKS if "tracking:click" in kinds else 0)
            for email, kinds in people.items()
        }
        assert kept == expected

        # After the send: ann withdraws open tracking, eve grants it. Neither changes what was sent.
        record_consent(contacts["ann@example.net"], opens, "withdrawn", RequestContext("preference-centre"))
        record_consent(contacts["eve@example.net"], opens, "granted", RequestContext("preference-centre"))
        db.session.commit()

        by_tracking = Counter()
        for (_relay, status, tracking), n in counters.totals(
            "delivery_relay_counts", campaign_id=campaign.id
        ).items():
            by_tracking[(status, tracking)] += n
        assert by_tracking == Counter({("sent", 3): 1, ("sent", 1): 1, ("sent", 0): 2, ("sent", 2): 1})
        rows = db.session.execute(
            text("SELECT status, tracking, count(*) FROM deliveries WHERE campaign_id = :c GROUP BY 1, 2"),
            {"c": campaign.id},
        )
        assert Counter({(status, tracking): n for status, tracking, n in rows}) == by_tracking

        stats = analytics.campaign_stats(campaign)
        db.session.commit()
        assert (stats.delivered, stats.opens.consenting, stats.clicks.consenting) == (5, 2, 2)
        # the same as the ledger says for the time of the send, and nothing had to be counted and kept
        assert analytics._consenting_when_sent(campaign.id, analytics._tracking_purposes()) == {
            "open": 2,
            "click": 2,
        }
        assert db.session.get(ConsentSnapshot, campaign.id) is None
        public_id = campaign.public_id

    page = auth.get(f"/admin/campaigns/{public_id}/stats")
    assert page.status_code == 200
    assert page.text.count("2 of 5") == 2  # opens and clicks: consenting recipients of those delivered
