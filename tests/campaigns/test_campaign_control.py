"""Sending under change: send-time eligibility, pause / resume / cancel, SMTP answers, redelivered batches."""

import pytest
from sqlalchemy import select

from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns import sending
from mailer.campaigns.models import Campaign
from mailer.consent.ledger import record_consent
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.suppression import Suppression
from mailer.core.extensions import db
from mailer.subscriptions.models.lists import Subscription
from tests.support.campaigns import CTX, campaign_status, deliveries, newsletter
from tests.support.workers import drain


def _start_and_plan(campaign):
    """Press Send, then run the real planner now; the batch messages wait in the broker (no worker yet)."""
    campaigns.start_campaign(campaign)
    db.session.commit()
    sending.plan_campaign(campaign.id)


def test_eligibility_is_rechecked_when_the_message_is_sent(app, app_ctx, smtp_server):
    campaign, (stays, leaves, restricted, suppressed, erased) = newsletter(5)
    _start_and_plan(campaign)
    assert [d.status for d in deliveries(campaign)] == ["queued"] * 5

    # While the batch is queued: one unsubscribes, one is restricted, one is suppressed, one is erased.
    sub = db.session.execute(select(Subscription).where(Subscription.contact_id == leaves.id)).scalar_one()
    sub.status = "unsubscribed"
    record_consent(leaves, sub.mailing_list.purpose, "withdrawn", CTX)
    db.session.get(Contact, restricted.id).status = "restricted"
    db.session.add(Suppression(email_hash=suppressed.email_hash, reason="complaint"))
    from mailer.privacy.erasure import anonymise_contact

    anonymise_contact(db.session.get(Contact, erased.id))
    db.session.commit()

    app.extensions["mailer.workers"].start_worker(2)
    drain(app)

    assert [m.rcpt_tos for m in smtp_server.messages] == [[stays.email]]
    outcome = {d.contact_id: (d.status, d.reason) for d in deliveries(campaign)}
    assert outcome == {
        stays.id: ("sent", ""),
        leaves.id: ("skipped", "unsubscribed"),
        restricted.id: ("skipped", "restricted"),
        suppressed.id: ("skipped", "suppressed"),
        erased.id: ("skipped", "erased"),
    }
    assert campaign_status(campaign) == "sent"


def test_a_redelivered_batch_message_sends_nothing_twice(app, app_ctx, smtp_server):
    campaign, contacts = newsletter(4)
    _start_and_plan(campaign)
    [batch] = {d.batch for d in deliveries(campaign)}
    # Another worker holds one delivery already (claimed, in flight): this batch must leave it alone.
    held = deliveries(campaign)[0]
    held.status = "sending"
    db.session.commit()
    send_batch = app.extensions["mailer.workers"].actors["send_batch"]
    send_batch.send(campaign.id, batch)  # the same message delivered twice more, e.g. after a lost ack
    send_batch.send(campaign.id, batch)
    app.extensions["mailer.workers"].start_worker(2)
    drain(app)

    received = sorted(m.rcpt_tos[0] for m in smtp_server.messages)
    assert received == sorted(c.email for c in contacts if c.id != held.contact_id)
    assert {d.status for d in deliveries(campaign) if d.id != held.id} == {"sent"}
    assert all(d.attempts == 1 for d in deliveries(campaign) if d.id != held.id)
    assert campaign_status(campaign) == "sending"  # not "sent" while one delivery is still open


@pytest.mark.config(SEND_RATE_PER_SECOND=20, SEND_CHUNK_SIZE=5, SEND_BATCH_SIZE=10)
def test_pause_resume_and_cancel_take_effect_while_sending(app, app_ctx, worker, smtp_server):
    campaign, _contacts = newsletter(40)
    campaigns.start_campaign(campaign)
    db.session.commit()

    with smtp_server.arrived:
        assert smtp_server.arrived.wait_for(lambda: len(smtp_server.messages) >= 3, timeout=20)
    campaigns.pause_campaign(db.session.get(Campaign, campaign.id))
    db.session.commit()
    worker.drain()  # every running batch noticed the pause and returned
    paused = deliveries(campaign)
    sent = [d for d in paused if d.status == "sent"]
    assert campaign_status(campaign) == "paused"
    assert len(smtp_server.messages) == len(sent) < 40
    assert {d.status for d in paused} <= {"sent", "queued"} and any(d.status == "queued" for d in paused)
    assert campaigns.progress(db.session.get(Campaign, campaign.id))["remaining"] == 40 - len(sent)

    campaigns.resume_campaign(db.session.get(Campaign, campaign.id))
    db.session.commit()
    before = len(smtp_server.messages)
    with smtp_server.arrived:
        assert smtp_server.arrived.wait_for(lambda: len(smtp_server.messages) >= before + 3, timeout=20)
    campaigns.cancel_campaign(db.session.get(Campaign, campaign.id))
    db.session.commit()
    worker.drain()

    final = deliveries(campaign)
    statuses = [d.status for d in final]
    assert campaign_status(campaign) == "cancelled"
    assert "queued" not in statuses and "sending" not in statuses
    assert statuses.count("sent") == len(smtp_server.messages) < 40
    assert {d.reason for d in final if d.status == "skipped"} == {"cancelled"}
    addresses = [m.rcpt_tos[0] for m in smtp_server.messages]
    assert len(addresses) == len(set(addresses))  # nobody got it twice across pause and resume


@pytest.mark.config(SEND_RETRY_BACKOFF_SECONDS=0)
def test_temporary_smtp_failure_is_retried_then_sent(app, app_ctx, worker, smtp_server):
    campaign, [contact] = newsletter(1)
    smtp_server.data_replies.append("451 4.3.0 Please try again later")
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()

    [delivery] = deliveries(campaign)
    assert (delivery.status, delivery.attempts, delivery.smtp_code) == ("sent", 2, 250)
    assert [m.rcpt_tos for m in smtp_server.messages] == [[contact.email]]
    assert campaign_status(campaign) == "sent"


@pytest.mark.config(SEND_MAX_ATTEMPTS=1, SEND_POLICY_PAUSE=10)
def test_permanent_smtp_failures_are_classified(app, app_ctx, worker, smtp_server):
    campaign, (gone, full, policy, fine) = newsletter(4)
    smtp_server.rcpt_replies.update(
        {
            gone.email: "550 5.1.1 No such user here",
            full.email: "552 5.2.2 Mailbox full",
            policy.email: "550 5.7.1 Message rejected: DMARC policy",
        }
    )
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()

    outcome = {d.contact_id: d for d in deliveries(campaign)}
    assert (outcome[gone.id].status, outcome[gone.id].smtp_code) == ("bounced", 550)
    assert outcome[gone.id].reason.startswith("hard bounce: 550 5.1.1")
    assert outcome[full.id].status == "bounced" and "5.2.2" in outcome[full.id].reason  # soft: no suppression
    assert outcome[policy.id].status == "failed" and "refused by policy" in outcome[policy.id].reason
    assert outcome[fine.id].status == "sent"
    suppressed = set(db.session.execute(select(Suppression.email_hash)).scalars())
    assert suppressed == {gone.email_hash}  # only 5.1.1 suppresses; 5.7.x is our setup, 5.2.2 is temporary
    assert campaign_status(campaign) == "sent"


@pytest.mark.config(SEND_POLICY_PAUSE=2, SEND_CHUNK_SIZE=3)
def test_campaign_pauses_itself_when_our_setup_is_refused(app, app_ctx, worker, smtp_server):
    campaign, contacts = newsletter(6)
    for contact in contacts:
        smtp_server.rcpt_replies[contact.email] = "554 5.7.26 Unauthenticated email is not accepted"
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()

    db.session.expire_all()
    paused = db.session.get(Campaign, campaign.id)
    assert paused.status == "paused"
    assert "policy" in paused.status_reason and "5.7.26" in paused.status_reason
    progress = campaigns.progress(paused)
    assert (
        progress["failed"] >= 2
        and progress["queued"] > 0
        and progress["status_reason"] == paused.status_reason
    )
    assert not db.session.execute(select(Suppression)).first()


@pytest.mark.config(SEND_BATCH_SIZE=2)
def test_planner_pages_by_keyset_past_pages_where_nobody_is_eligible(app, app_ctx, worker, smtp_server):
    campaign, contacts = newsletter(7)
    for contact in contacts[:3]:  # the whole first page and half the second: nobody to plan there
        contact.status = "restricted"
    db.session.commit()
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()

    planned = deliveries(campaign)
    assert sorted(d.contact_id for d in planned) == sorted(c.id for c in contacts[3:])
    assert sorted({d.batch for d in planned}) == [1, 2, 3], [(d.contact_id, d.batch) for d in planned]
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == sorted(c.email for c in contacts[3:])
    done = db.session.get(Campaign, campaign.id)
    assert done.status == "sent" and done.planning_done and done.planned_through == contacts[-1].id
