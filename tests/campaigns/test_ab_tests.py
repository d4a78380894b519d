"""A/B tests end to end over real SMTP: the split, the winner by consenting clicks or by hand, the rest."""

import html as html_lib
import re
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from mailer.campaigns import ab_testing
from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns.drafts import duplicate_campaign
from mailer.campaigns.models import AbTest, Campaign
from mailer.consent.ledger import record_consent
from mailer.consent.models import Purpose
from mailer.contacts.models.contact import Contact
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.subscriptions.models.lists import Subscription
from mailer.subscriptions.preferences import unsubscribe_all
from mailer.tracking import events as tracking
from tests.support.ab_tests import ab_campaign, by_address
from tests.support.campaigns import CTX, campaign_status, deliveries, make_campaign

CLICK_URL = re.compile(r"""https?://[^\s"'<>]+/t/c/[^\s"'<>]+""")


def test_test_share_is_split_evenly_one_variant_each_and_the_draw_is_reproducible(
    app_ctx, worker, smtp_server
):
    campaign = ab_campaign(41, percent=30, variants=3)
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()

    test = db.session.get(AbTest, campaign.id)
    rows = deliveries(campaign)
    assert test.seed and test.sample_size == len(rows) == 13  # ceil(41 × 30 %)
    assert sorted(Counter(d.variant for d in rows).values()) == [4, 4, 5]
    received = by_address(smtp_server)
    assert len(received) == 13 and all(len(mails) == 1 for mails in received.values())
    for delivery in rows:
        letter = ab_testing.letter(delivery.variant)
        mail = received[delivery.contact.email][0]
        assert mail["Subject"] == f"Subject {letter}" and mail["From"].startswith(f"Team {letter} <")
    assert campaign_status(campaign) == "sending"  # waiting for the winner; the rest has not been planned

    # The same seed draws the same people.
    again = make_campaign(campaign.lists, from_email="news@example.org")
    ab_testing.configure(again, enabled=True, test_percent=30, wait_minutes=60)
    ab_testing.add_variant(again)
    db.session.commit()
    campaigns.start_campaign(again)
    again.ab_test.seed = test.seed
    db.session.commit()
    worker.drain()
    assert {d.contact_id for d in deliveries(again)} == {d.contact_id for d in rows}


@pytest.mark.config(TRACKING_MACHINE_SECONDS=0)
def test_consenting_clicks_choose_the_winner_and_the_rest_gets_only_the_winner(
    app, app_ctx, worker, smtp_server
):
    campaign = ab_campaign(24, percent=50)
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    rows = deliveries(campaign)
    variant_a = [d for d in rows if d.variant == 0]
    variant_b = [d for d in rows if d.variant == 1]
    assert len(variant_a) == len(variant_b) == 6

    # B: one consenting click. A: three clicks from people who withdrew click tracking consent first — they
    # would make A the winner if they counted.
    client = app.test_client()
    base = app.config["MAILER_BASE_URL"]
    ua = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}
    click_purpose = db.session.execute(select(Purpose).where(Purpose.key == "tracking:click")).scalar_one()
    received = by_address(smtp_server)

    def click(delivery) -> None:
        html = received[delivery.contact.email][0].get_body(("html",)).get_content()
        url = html_lib.unescape(CLICK_URL.findall(html)[0])
        assert client.get(url[len(base) :], headers=ua).status_code == 302

    click(variant_b[0])
    for delivery in variant_a[:3]:
        record_consent(delivery.contact, click_purpose, "withdrawn", CTX)
        db.session.commit()
        click(delivery)
    tracking.flush_events()

    # The one who unsubscribed between the test and the rest gets nothing.
    tested_ids = {d.contact_id for d in rows}
    subscribed = db.session.execute(
        select(Subscription.contact_id).order_by(Subscription.contact_id)
    ).scalars()
    leaver = db.session.get(Contact, next(i for i in subscribed if i not in tested_ids))
    unsubscribe_all(leaver, CTX)
    db.session.commit()

    assert ab_testing.decide_due_tests() == 0  # the wait is not over
    db.session.execute(update(AbTest).where(AbTest.campaign_id == campaign.id).values(decide_at=utcnow()))
    db.session.commit()
    assert ab_testing.decide_due_tests() == 1
    worker.drain()

    test = db.session.get(AbTest, campaign.id)
    decision = test.decision
    assert test.winner == 1 and decision["method"] == "clicks" and not decision["decisive"]
    stats = {s["position"]: s for s in decision["stats"]}
    assert (stats[0]["click_consenting"], stats[0]["clickers"]) == (3, 0)
    assert (stats[1]["click_consenting"], stats[1]["clickers"]) == (6, 1)
    assert decision["too_small"] == ["Variant A", "Variant B"]  # fewer than 30 consenting each: a warning

    received = by_address(smtp_server)
    assert leaver.email not in received
    assert len(received) == 23 and all(len(mails) == 1 for mails in received.values())
    tested = {d.contact.email for d in rows}
    rest = [mails[0] for address, mails in received.items() if address not in tested]
    assert len(rest) == 11 and {mail["Subject"] for mail in rest} == {"Subject B"}
    assert {d.variant for d in deliveries(campaign) if d.contact.email not in tested} == {1}
    assert campaign_status(campaign) == "sent"


def test_manual_pick_waits_for_a_person_then_sends_the_pick(app_ctx, worker, smtp_server, staff_user):
    campaign = ab_campaign(10, percent=20, variants=2, criterion="manual")
    with pytest.raises(campaigns.CampaignError, match="test share has been sent"):
        ab_testing.pick_winner(campaign, 0, staff_user.id)
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    db.session.execute(
        update(AbTest)
        .where(AbTest.campaign_id == campaign.id)
        .values(decide_at=utcnow() - timedelta(hours=1))
    )
    db.session.commit()
    assert ab_testing.decide_due_tests() == 0 and campaign_status(campaign) == "sending"

    campaign = db.session.get(Campaign, campaign.id)
    ab_testing.pick_winner(campaign, 0, staff_user.id)
    db.session.commit()
    with pytest.raises(campaigns.CampaignError, match="already been chosen"):
        ab_testing.pick_winner(campaign, 1, staff_user.id)
    db.session.rollback()  # a refused pick ends its read (on SQLite a reader would hold the planner's write)
    worker.drain()
    test = db.session.get(AbTest, campaign.id)
    assert test.winner == 0 and test.decided_by_id == staff_user.id and test.decision["method"] == "manual"
    received = by_address(smtp_server)
    assert len(received) == 10 and all(len(mails) == 1 for mails in received.values())
    assert Counter(mails[0]["Subject"] for mails in received.values()) == {"Subject A": 9, "Subject B": 1}
    assert campaign_status(campaign) == "sent"


def test_cancel_during_the_wait_sends_no_rest(app_ctx, worker, smtp_server):
    campaign = ab_campaign(10, percent=20)
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    campaigns.cancel_campaign(db.session.get(Campaign, campaign.id))
    db.session.execute(update(AbTest).where(AbTest.campaign_id == campaign.id).values(decide_at=utcnow()))
    db.session.commit()
    assert ab_testing.decide_due_tests() == 0
    worker.drain()
    assert len(smtp_server.messages) == 2 and campaign_status(campaign) == "cancelled"


def test_settings_are_checked_and_drafts_only(app_ctx):
    campaign = ab_campaign(1, variants=4)
    with pytest.raises(campaigns.CampaignError, match="between 5 and 50"):
        ab_testing.configure(campaign, enabled=True, test_percent=80)
    with pytest.raises(campaigns.CampaignError, match="at most 4"):
        ab_testing.add_variant(campaign)
    with pytest.raises(campaigns.CampaignError, match="sender name can't contain"):
        ab_testing.update_variant(campaign, 0, from_name="boss@bank.example")
    with pytest.raises(campaigns.CampaignError, match="Variant A's subject"):
        ab_testing.update_variant(campaign, 0, subject="Hi {{ contact.name ")
    ab_testing.remove_variant(campaign, 1)
    db.session.commit()
    assert [v.position for v in campaign.ab_variants] == [0, 1, 2]
    assert campaign.ab_variants[1].subject == "Subject C"  # C moved up to B's place
    ab_testing.remove_variant(campaign, 2)
    with pytest.raises(campaigns.CampaignError, match="at least 2 variants"):
        ab_testing.remove_variant(campaign, 1)
    ab_testing.update_variant(campaign, 1, subject="", body="")
    assert ab_testing.problems(campaign) == []  # empty fields inherit the campaign's own
    campaign.subject = ""
    assert "Variant B has no subject line." in ab_testing.problems(campaign)
    copy = duplicate_campaign(campaign)  # a copy keeps the test's settings and variants, not its outcome
    assert copy.ab_test.test_percent == 50 and [v.subject for v in copy.ab_variants] == ["Subject A", ""]
    campaign.status = "sending"
    with pytest.raises(campaigns.CampaignError, match="only a draft"):
        ab_testing.add_variant(campaign)


def _stats(position: int, consenting: int, clickers: int) -> ab_testing.VariantStats:
    return ab_testing.VariantStats(
        position, f"Variant {position}", consenting, consenting, 0, 0, consenting, clickers
    )


def test_decisive_rule_is_a_z_test_at_95_percent_with_a_minimum_sample():
    decisive = ab_testing.judge([_stats(0, 40, 5), _stats(1, 40, 20)])
    assert decisive["leader"] == 1 and decisive["decisive"] and decisive["z"] >= 1.96
    close = ab_testing.judge([_stats(0, 400, 40), _stats(1, 400, 50)])
    assert close["leader"] == 1 and not close["decisive"] and close["too_small"] == []
    small = ab_testing.judge([_stats(0, 10, 0), _stats(1, 10, 9)])
    assert not small["decisive"] and small["too_small"] == ["Variant 0", "Variant 1"]
    tie = ab_testing.judge([_stats(0, 50, 5), _stats(1, 50, 5), _stats(2, 50, 1)])
    assert tie["leader"] == 0 and tie["tie"] and not tie["decisive"]
