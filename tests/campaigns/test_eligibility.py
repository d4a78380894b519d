"""One eligibility rule: the preview's count and reasons, the planner and the send-time check agree."""

from collections import Counter

from sqlalchemy import select

from mailer.campaigns import eligibility, lifecycle, sending
from mailer.consent.ledger import record_consent
from mailer.consent.models import Purpose
from mailer.contacts.models.suppression import Suppression
from mailer.core.extensions import db
from mailer.delivery.models import Delivery
from mailer.privacy.erasure import anonymise_contact
from mailer.subscriptions.lists import create_list, ensure_tracking_purposes
from tests.support.campaigns import CTX, make_campaign, subscriber

EXPECTED = {
    "ok@example.net": "",
    "tracked@example.net": "",
    "pending@example.net": "unconfirmed",
    "left@example.net": "unsubscribed",
    "noconsent@example.net": "no_consent",
    "restricted@example.net": "restricted",
    "erased@example.net": "erased",
    "suppressed@example.net": "suppressed",
    "bounced@example.net": "bounced",
    "objector@example.net": "objected",
    "vip@example.net": "excluded_list",
}


def _one_contact_in_every_state():
    """A campaign to "News" with one subscriber per exclusion state (and two who may receive it)."""
    ensure_tracking_purposes()
    news, vip = create_list("News"), create_list("VIP customers")
    people = {
        "ok@example.net": subscriber(news, "ok@example.net"),
        "tracked@example.net": subscriber(news, "tracked@example.net", tracking=("tracking:open",)),
        "pending@example.net": subscriber(news, "pending@example.net", status="pending", consent=False),
        "left@example.net": subscriber(news, "left@example.net", status="unsubscribed"),
        "noconsent@example.net": subscriber(news, "noconsent@example.net", consent=False),
        "restricted@example.net": subscriber(news, "restricted@example.net"),
        "erased@example.net": subscriber(news, "erased@example.net"),
        "suppressed@example.net": subscriber(news, "suppressed@example.net"),
        "bounced@example.net": subscriber(news, "bounced@example.net"),
        "objector@example.net": subscriber(news, "objector@example.net"),
        "vip@example.net": subscriber(news, "vip@example.net"),
    }
    people["restricted@example.net"].status = "restricted"
    db.session.add_all(
        [
            Suppression(email_hash=people["suppressed@example.net"].email_hash, reason="manual"),
            Suppression(email_hash=people["bounced@example.net"].email_hash, reason="hard_bounce"),
        ]
    )
    direct_marketing = Purpose(key="direct-marketing", name="Direct marketing", kind="other")
    db.session.add(direct_marketing)
    db.session.flush()
    record_consent(people["objector@example.net"], direct_marketing, "objected", CTX)
    subscriber(vip, "vip@example.net")
    anonymise_contact(people["erased@example.net"])
    campaign = make_campaign([news])
    campaign.exclusion_lists = [vip]
    db.session.commit()
    return campaign, news, {email: contact.id for email, contact in people.items()}


def test_count_preview_reasons_planner_and_send_time_check_agree(app_ctx):
    campaign, news, ids = _one_contact_in_every_state()
    expected = {ids[email]: reason for email, reason in EXPECTED.items()}

    # The compliance preview: its counts and, per person, the reason it counted.
    counts = lifecycle.compliance_preview(campaign)
    db.session.commit()
    assert eligibility.exclusion_reasons(campaign.id) == expected
    tally = Counter(expected.values())
    assert counts["recipients"] == tally.pop("")
    assert counts["excluded"] == {reason: tally.get(reason, 0) for reason in eligibility.REASONS if reason}

    # The planner: exactly the people the preview counted as recipients.
    planned = eligibility.eligible_in_range(campaign.id, 0, max(ids.values()))
    assert {row.contact_id for row in db.session.execute(planned)} == {
        contact_id for contact_id, reason in expected.items() if not reason
    }

    # The send-time check, asked about a delivery for every one of them: the same reason for each.
    for contact_id in expected:
        db.session.add(Delivery(campaign_id=campaign.id, contact_id=contact_id, list_id=news.id, batch=1))
    db.session.commit()
    rows = db.session.execute(
        select(Delivery.id, Delivery.contact_id, Delivery.list_id).where(Delivery.campaign_id == campaign.id)
    ).all()
    checked = sending.STORE.recheck(campaign.id, [tuple(row) for row in rows])
    assert {rec.contact_id: rec.skip_reason for rec in checked} == expected
    tracked = {rec.contact_id: rec.track_opens for rec in checked if not rec.skip_reason}
    assert tracked == {ids["ok@example.net"]: False, ids["tracked@example.net"]: True}


def test_the_send_time_check_follows_a_change_made_after_planning(app_ctx):
    campaign, news, ids = _one_contact_in_every_state()
    delivery = Delivery(campaign_id=campaign.id, contact_id=ids["ok@example.net"], list_id=news.id, batch=1)
    db.session.add(delivery)
    db.session.commit()
    claimed = [(delivery.id, delivery.contact_id, delivery.list_id)]
    assert [rec.skip_reason for rec in sending.STORE.recheck(campaign.id, claimed)] == [""]

    db.session.add(Suppression(email_hash=delivery.contact.email_hash, reason="manual"))
    db.session.commit()
    assert [rec.skip_reason for rec in sending.STORE.recheck(campaign.id, claimed)] == ["suppressed"]
    assert eligibility.exclusion_reasons(campaign.id)[delivery.contact_id] == "suppressed"
