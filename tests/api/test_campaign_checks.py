"""Before sending, through the API as on the admin's send page: who would receive a campaign now and who is
left out and why (the same count sending stores, then the real send over SMTP reaches exactly those), and
the campaign or an A/B variant previewed as a contact or a sample contact."""

from collections import Counter

import pytest

from mailer.core.extensions import db
from mailer.subscriptions.lists import create_list
from tests.campaigns.test_eligibility import EXPECTED, _one_contact_in_every_state
from tests.support.ab_tests import ab_campaign
from tests.support.campaigns import make_campaign, subscriber

EXPLAINED = {
    "unconfirmed": "Never confirmed their subscription (double opt-in pending)",
    "unsubscribed": "Unsubscribed",
    "no_consent": "No consent for this list's purpose",
    "excluded_list": "In an excluded list",
    "objected": "Objected to direct marketing",
    "suppressed": "On the suppression list",
    "bounced": "Bounced earlier",
    "restricted": "Processing restricted",
    "erased": "Erased",
}


def test_the_send_check_explains_every_exclusion_and_the_send_reaches_exactly_the_recipients(
    api, read_api, worker, smtp_server
):
    campaign, _news, _ids = _one_contact_in_every_state()
    tally = Counter(EXPECTED.values())
    check = read_api.get(f"/campaigns/{campaign.public_id}/send-check")
    assert check.status_code == 200, check.get_json()
    found = check.get_json()
    assert (found["count"], found["recipients"], found["ready"]) == ("counted", tally[""], True)
    assert {e["reason"]: (e["count"], e["explanation"]) for e in found["excluded"]} == {
        reason: (tally.get(reason, 0), text) for reason, text in EXPLAINED.items()
    }
    assert found["excluded_total"] == len(EXPECTED) - tally[""] and found["counted_at"].endswith("Z")
    assert all(item["ok"] for item in found["checks"]) and len(found["checks"]) == 3

    sent = api.post(f"/campaigns/{campaign.public_id}/send")
    assert sent.status_code == 202, sent.get_json()
    worker.drain()
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == sorted(
        email for email, reason in EXPECTED.items() if not reason
    )
    after = api.get(f"/campaigns/{campaign.public_id}/send-check").get_json()
    assert after["campaign_status"] != "draft" and (after["recipients"], after["ready"]) == (tally[""], False)
    assert after["excluded_total"] == found["excluded_total"]  # the count it was sent with, not a new one


@pytest.mark.config(COMPLIANCE_INLINE_CONTACTS=0)
def test_a_large_audience_is_counted_in_the_background_and_asked_again(api, worker):
    campaign, _news, _ids = _one_contact_in_every_state()
    first = api.get(f"/campaigns/{campaign.public_id}/send-check").get_json()
    assert (first["count"], first["recipients"], first["excluded"], first["ready"]) == (
        "counting",
        None,
        [],
        False,
    )
    assert first["counting_percent"] == 0
    worker.drain()
    db.session.expire_all()  # the worker's count, not this session's copy
    done = api.get(f"/campaigns/{campaign.public_id}/send-check").get_json()
    assert (done["count"], done["recipients"], done["ready"]) == ("counted", 2, True)
    assert sum(e["count"] for e in done["excluded"]) == len(EXPECTED) - 2


@pytest.mark.config(MAILER_POSTAL_ADDRESS="")
def test_the_send_check_says_what_sending_still_needs(api):
    campaign = make_campaign([])
    db.session.commit()
    check = api.get(f"/campaigns/{campaign.public_id}/send-check")
    assert check.status_code == 200
    found = check.get_json()
    assert (found["count"], found["recipients"], found["ready"]) == ("not_counted", None, False)
    assert [item["ok"] for item in found["checks"]] == [False, True, False]
    assert found["checks"][0]["message"].startswith("No postal address is set: sending is refused")
    assert found["checks"][2]["message"] == "No list chosen."
    refused = api.get(f"/campaigns/{campaign.public_id}/send-check?again=maybe")
    assert refused.status_code == 422 and refused.get_json()["detail"] == {"again": "must be true or false"}
    assert api.get("/campaigns/nope/send-check").status_code == 404


def test_preview_as_a_contact_a_sample_or_a_variant(api, read_api):
    news = create_list("News")
    reader = subscriber(news, "reader@example.com", "Rita Reader")
    campaign = make_campaign([news], from_name="Shop", from_email="news@example.org")
    db.session.commit()
    path = f"/campaigns/{campaign.public_id}/preview"

    sample = read_api.get(path)
    assert sample.status_code == 200, sample.get_json()
    shown = sample.get_json()
    assert shown["subject"] == "Spring news for Jane" and shown["contact_id"] is None
    assert "Hello Jane" in shown["html"] and "Hello Jane" in shown["text"]
    assert (shown["from_name"], shown["from_email"], shown["variant"]) == ("Shop", "news@example.org", None)

    for chosen in (reader.public_id, "Reader@Example.com"):
        as_reader = read_api.get(path, query_string={"contact": chosen}).get_json()
        assert as_reader["subject"] == "Spring news for Rita" and as_reader["contact_id"] == reader.public_id
        assert "Hello Rita" in as_reader["html"] and "https://example.org/news?id=7" in as_reader["html"]

    unknown = read_api.get(path, query_string={"contact": "nobody@example.com"})
    assert unknown.status_code == 422 and "no contact" in unknown.get_json()["detail"]["contact"]
    no_test = read_api.get(path, query_string={"variant": "B"})
    assert no_test.status_code == 422 and no_test.get_json()["detail"] == {
        "variant": "This campaign has no variant B."
    }

    campaign.subject = "Hi {{ contact.first_name | shout }}"
    db.session.commit()
    broken = read_api.get(path)
    assert broken.status_code == 409 and "shout" in broken.get_json()["error"]


def test_preview_of_an_ab_variant(api):
    campaign = ab_campaign(2)
    path = f"/campaigns/{campaign.public_id}/preview"
    shown = api.get(path, query_string={"variant": "B", "contact": "p1@example.net"}).get_json()
    assert (shown["subject"], shown["from_name"], shown["variant"]) == ("Subject B", "Team B", "B")
    assert "Hello P1" in shown["html"]
    missing = api.get(path, query_string={"variant": "C"})
    assert missing.status_code == 422 and missing.get_json()["detail"]["variant"] == (
        "This campaign has no variant C."
    )
