"""GET /campaigns/{id} shows the campaign's A/B test: settings, variants as sent, figures, the winner."""

from mailer.campaigns import ab_testing
from mailer.campaigns import lifecycle as campaigns
from mailer.core.extensions import db
from tests.support.ab_tests import ab_campaign


def test_campaign_shows_its_ab_test_and_the_winner(api, worker, smtp_server, staff_user):
    campaign = ab_campaign(10, percent=20, criterion="manual")
    plain = api.get(f"/campaigns/{campaign.public_id}").get_json()
    assert plain["ab_test"]["winner"] is None and plain["ab_test"]["seed"] is None
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    ab_testing.pick_winner(campaign, 1, staff_user.id)
    db.session.commit()
    worker.drain()

    test = api.get(f"/campaigns/{campaign.public_id}").get_json()["ab_test"]
    assert (test["test_percent"], test["criterion"], test["sample_size"], test["winner"]) == (
        20,
        "manual",
        2,
        "B",
    )
    assert test["decision"]["method"] == "manual" and test["decided_at"].endswith("Z")
    assert [(v["letter"], v["subject"], v["from_name"], v["sent"]) for v in test["variants"]] == [
        ("A", "Subject A", "Team A", 1),
        ("B", "Subject B", "Team B", 1),
    ]
    assert all(v["click_consenting"] == 1 and v["clickers"] == 0 for v in test["variants"])


def test_a_campaign_without_ab_test_says_so(api, read_api):
    campaign = ab_campaign(1)
    ab_testing.configure(campaign, enabled=False)
    db.session.commit()
    assert api.get(f"/campaigns/{campaign.public_id}").get_json()["ab_test"] is None
