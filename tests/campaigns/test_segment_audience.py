"""A campaign sent to lists and/or segments: the audience is (lists ∪ segments) minus excluded lists, the
compliance preview explains every exclusion, and the send (planner and send-time check) uses the same rule."""

import pytest

from mailer.campaigns import eligibility
from mailer.campaigns import lifecycle as campaigns
from mailer.contacts import fields as field_service
from mailer.core.extensions import db
from mailer.segments.conditions import SegmentError
from mailer.segments.operations import delete_segment, save_segment
from mailer.subscriptions.lists import create_list, ensure_tracking_purposes
from tests.support.campaigns import campaign_status, make_campaign, subscriber


def _pro_segment(plan):
    return save_segment(
        "Pro plan", {"match": "all", "rules": [{"field": "field:plan", "op": "is", "value": "Pro"}]}, None
    )


@pytest.fixture
def audience(app_ctx):
    ensure_tracking_purposes()
    plan = field_service.define_field(
        "plan", "Plan", "ordinary", value_type="single_choice", choices="Free\nPro"
    )
    news, offers, staff = create_list("News"), create_list("Offers"), create_list("Staff")
    people = {
        "ann": subscriber(news, "ann@example.com"),  # on the campaign's list
        "bob": subscriber(offers, "bob@example.com"),  # Pro, on another list: reached through the segment
        "cat": subscriber(offers, "cat@example.com"),  # Free: not in the segment, not on the list
        "dan": subscriber(offers, "dan@example.com", status="pending", consent=False),  # Pro, unconfirmed
        "eve": subscriber(offers, "eve@example.com"),  # Pro, but on the excluded list
    }
    subscriber(staff, "eve@example.com")
    for name in ("bob", "dan", "eve"):
        field_service.set_value(people[name], plan, "Pro")
    field_service.set_value(people["cat"], plan, "Free")
    segment = _pro_segment(plan)
    campaign = make_campaign([news])
    campaign.segments = [segment]
    campaign.exclusion_lists = [staff]
    db.session.commit()
    return campaign, people, segment, {"news": news, "offers": offers}


def test_the_preview_explains_every_exclusion_of_lists_and_segments(audience):
    campaign, people, _, _ = audience
    counts = eligibility.exclusion_counts(campaign.id)
    assert counts["recipients"] == 2  # Ann (list) and Bob (segment)
    assert {k: v for k, v in counts["excluded"].items() if v} == {"unconfirmed": 1, "excluded_list": 1}
    reasons = eligibility.exclusion_reasons(campaign.id)
    assert {name: reasons[p.id] for name, p in people.items() if p.id in reasons} == {
        "ann": "",
        "bob": "",
        "dan": "unconfirmed",
        "eve": "excluded_list",
    }


def test_a_segment_alone_is_an_audience_and_the_send_reaches_only_its_eligible_members(
    audience, worker, smtp_server
):
    campaign, _, _, _ = audience
    campaign.lists = []
    db.session.commit()
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    assert campaign_status(campaign) == "sent"
    received = {address for m in smtp_server.messages for address in m.rcpt_tos}
    assert received == {"bob@example.com"}
    message = smtp_server.to("bob@example.com")[0].message
    assert "List-Unsubscribe" in message  # mailed under the list Bob confirmed (Offers)


def test_a_segment_in_use_is_kept(audience):
    campaign, _, segment, _ = audience
    with pytest.raises(SegmentError, match="A campaign is sent to this segment"):
        delete_segment(segment, None)
    db.session.rollback()
    assert campaign.segments == [segment]


def test_a_campaign_with_neither_list_nor_segment_is_refused(audience):
    campaign, _, _, _ = audience
    campaign.lists, campaign.segments = [], []
    with pytest.raises(campaigns.CampaignError, match="list or segment"):
        campaigns.start_campaign(campaign)
