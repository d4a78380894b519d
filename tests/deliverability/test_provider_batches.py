"""Provider events acted on as one batch (one signed SendGrid request is one batch of the worker): the
outcome of each event is the one the per-event DSN / ARF / one-click rules give when applied in the order
the events arrived — thresholds reached inside the batch, the first suppression reason winning, one
withdrawal per list, erased and unknown contacts, campaigns of different sending domains."""

import json
from collections import Counter

import pytest
from sqlalchemy import select

from mailer.campaigns.models import Campaign
from mailer.consent.ledger import RequestContext, verify_chain
from mailer.consent.models import ConsentEvent
from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from mailer.deliverability.models import ProviderEventReceipt
from mailer.deliverability.provider_events import process_all_pending
from mailer.privacy.erasure import erase_contact
from tests.deliverability import provider_signing as signing
from tests.deliverability.bounce_support import (
    campaign_left_sending,
    delivery_state,
    events,
    send_campaign,
    subscribers,
    subscription_status,
    suppression_reason,
    withdrawals,
)

pytestmark = pytest.mark.config(**signing.CONFIG)
SENDGRID = "/hooks/providers/sendgrid"


@pytest.fixture
def people(news):
    return subscribers(news, "ann@example.net", "bob@example.net", "cy@example.net")


def _batch(client, items) -> dict[str, int]:
    """Post the events in one signed request, act on them as one batch; the receipts' outcomes."""
    body = json.dumps(items).encode()
    response = client.post(SENDGRID, data=body, headers=signing.sendgrid_headers(body))
    assert response.status_code == 200, response.text
    assert response.json["events"] == {"accepted": len(items)}
    process_all_pending()
    db.session.expire_all()
    return dict(Counter(db.session.execute(select(ProviderEventReceipt.outcome)).scalars()))


def _bounce(delivery, address, status="5.1.1"):
    return signing.sendgrid_event("bounce", delivery.message_id, address, status=status, type="bounce")


def _complaint(delivery, address):
    return signing.sendgrid_event("spamreport", delivery.message_id, address)


def _withdrawals(contact) -> list[str]:
    return [event.source for event in withdrawals(contact)]


@pytest.mark.config(BOUNCE_HARD_LIMIT=2)
def test_the_same_address_bouncing_twice_in_one_batch_reaches_the_hard_threshold_on_the_second(
    app, client, news, people, worker
):
    _, spring = send_campaign(worker, news, "Spring")
    _, summer = send_campaign(worker, news, "Summer")
    app.extensions["mailer.workers"].stop_worker()
    ann = "ann@example.net"
    items = [_bounce(spring[ann], ann), _bounce(summer[ann], ann), _bounce(spring[ann], ann)]

    assert _batch(client, items) == {"recorded": 2, "duplicate": 1}

    rows = events()
    assert [(e.delivery_id, e.kind, e.action_taken) for e in rows] == [
        (spring[ann].id, "hard", "counted"),
        (summer[ann].id, "hard", "suppressed"),
    ]
    assert suppression_reason(people[0]) == "hard_bounce"
    assert delivery_state(spring[ann].id).status == delivery_state(summer[ann].id).status == "bounced"
    assert suppression_reason(people[1]) is None


def test_soft_bounces_in_one_batch_suppress_the_address_at_the_soft_limit(app, client, news, people, worker):
    sent = [send_campaign(worker, news, name)[1] for name in ("Spring", "Summer", "Autumn")]
    app.extensions["mailer.workers"].stop_worker()
    bob = "bob@example.net"
    items = [_bounce(campaign[bob], bob, status="4.2.2") for campaign in sent[:2]]
    items.append(_bounce(sent[2][bob], bob, status="5.2.2"))  # mailbox full: soft too

    assert _batch(client, items) == {"recorded": 3}

    assert [(e.kind, e.action_taken) for e in events()] == [
        ("soft", "counted"),
        ("soft", "counted"),
        ("soft", "suppressed_after_soft"),
    ]
    assert suppression_reason(people[1]) == "hard_bounce"


def test_a_bounce_then_a_complaint_for_one_contact_keep_the_first_reason_and_withdraw_once(
    app, client, news, people, worker
):
    _, spring = send_campaign(worker, news, "Spring")
    _, summer = send_campaign(worker, news, "Summer")
    app.extensions["mailer.workers"].stop_worker()
    ann, cy = "ann@example.net", "cy@example.net"
    items = [
        _bounce(spring[ann], ann),
        _complaint(spring[ann], ann),
        _complaint(summer[ann], ann),  # the second complaint finds the list already left
        _complaint(spring[cy], cy),
        _bounce(summer[cy], cy),
    ]

    assert _batch(client, items) == {"recorded": 5}

    assert suppression_reason(people[0]) == "hard_bounce"  # the bounce came first
    assert suppression_reason(people[2]) == "complaint"  # the complaint came first
    assert sorted((e.delivery_id, e.kind) for e in events()) == sorted(
        [
            (spring[ann].id, "hard"),
            (spring[ann].id, "complaint"),
            (summer[ann].id, "complaint"),
            (spring[cy].id, "complaint"),
            (summer[cy].id, "hard"),
        ]
    )
    assert _withdrawals(people[0]) == ["system:complaint"]
    assert _withdrawals(people[2]) == ["system:complaint"]
    assert subscription_status(people[0], news) == subscription_status(people[2], news) == "unsubscribed"
    assert subscription_status(people[1], news) == "confirmed"
    assert verify_chain().ok


def test_an_unsubscribe_and_a_complaint_for_one_list_in_one_batch_withdraw_consent_once(
    app, client, news, people, worker
):
    _, spring = send_campaign(worker, news, "Spring")
    app.extensions["mailer.workers"].stop_worker()
    bob = "bob@example.net"
    items = [
        signing.sendgrid_event("unsubscribe", spring[bob].message_id, bob),
        _complaint(spring[bob], bob),
        signing.sendgrid_event("unsubscribe", spring[bob].message_id, bob),
    ]

    assert _batch(client, items) == {"recorded": 2, "duplicate": 1}

    assert _withdrawals(people[1]) == ["provider:sendgrid"]
    assert subscription_status(people[1], news) == "unsubscribed"
    assert suppression_reason(people[1]) == "complaint"
    assert verify_chain().ok


def test_events_for_an_erased_contact_and_for_unknown_messages_change_nothing_about_anyone(
    app, client, news, people, worker
):
    _, spring = send_campaign(worker, news, "Spring")
    app.extensions["mailer.workers"].stop_worker()
    ann, bob = "ann@example.net", "bob@example.net"
    erase_contact(db.session.get(Contact, people[0].id), RequestContext("test"))
    db.session.commit()
    ledger_before = db.session.execute(select(ConsentEvent.id)).scalars().all()
    items = [
        _bounce(spring[ann], ann),
        _complaint(spring[ann], ann),
        signing.sendgrid_event("unsubscribe", spring[ann].message_id, ann),
        signing.sendgrid_event("bounce", "<nobody@elsewhere.example>", "x@elsewhere.example", status="5.1.1"),
        _bounce(spring[bob], bob),
    ]

    assert _batch(client, items) == {"recorded": 3, "duplicate": 1, "unmatched": 1}

    # The erased person's events are logged against the delivery (no address), nothing is withdrawn again.
    assert [(e.delivery_id, e.kind) for e in events()] == [
        (spring[ann].id, "hard"),
        (spring[ann].id, "complaint"),
        (spring[bob].id, "hard"),
    ]
    assert all(e.contact_id in (people[0].id, people[1].id) for e in events())
    assert db.session.execute(select(ConsentEvent.id)).scalars().all() == ledger_before
    assert suppression_reason(people[1]) == "hard_bounce"
    assert verify_chain().ok


@pytest.mark.config(COMPLAINT_RATE_MIN_VOLUME=1)
def test_a_batch_mixing_campaigns_logs_each_domain_and_pauses_each_domains_campaigns_once(
    app, client, news, people, worker
):
    spring_campaign, spring = send_campaign(worker, news, "Spring")
    autumn_campaign, autumn = send_campaign(worker, news, "Autumn")
    autumn_campaign.from_email = "news@other.example"
    db.session.commit()
    summer = campaign_left_sending(app, news, "Summer")
    elsewhere = campaign_left_sending(app, news, "Other brand", from_email="news@other.example")
    ann, bob, cy = "ann@example.net", "bob@example.net", "cy@example.net"
    items = [
        _complaint(spring[ann], ann),
        _bounce(autumn[bob], bob),
        _complaint(spring[bob], bob),
        _complaint(autumn[cy], cy),
    ]

    assert _batch(client, items) == {"recorded": 4}

    assert sorted((e.campaign_id, e.sending_domain, e.kind) for e in events()) == sorted(
        [
            (spring_campaign.id, "example.com", "complaint"),
            (autumn_campaign.id, "other.example", "hard"),
            (spring_campaign.id, "example.com", "complaint"),
            (autumn_campaign.id, "other.example", "complaint"),
        ]
    )
    db.session.expire_all()
    paused = {
        c.name: (c.status, c.status_reason)
        for c in (db.session.get(Campaign, summer.id), db.session.get(Campaign, elsewhere.id))
    }
    assert paused["Summer"][0] == paused["Other brand"][0] == "paused"
    assert "2 spam complaint(s) about mail from example.com" in paused["Summer"][1]
    assert "1 spam complaint(s) about mail from other.example" in paused["Other brand"][1]
    assert [c.status for c in (spring_campaign, autumn_campaign)] == ["sent", "sent"]


def test_a_burst_of_requests_queues_one_job_and_a_request_after_it_started_queues_the_next(
    app, client, news, people, worker
):
    _, spring = send_campaign(worker, news, "Spring")
    workers = app.extensions["mailer.workers"]
    workers.stop_worker()
    for address in ("ann@example.net", "bob@example.net"):
        body = json.dumps([_bounce(spring[address], address)]).encode()
        assert client.post(SENDGRID, data=body, headers=signing.sendgrid_headers(body)).status_code == 200

    assert workers.queue_depths()[("provider_events", "waiting")] == 1  # two requests, one job

    workers.start_worker(threads=2)
    worker.drain()
    db.session.expire_all()
    assert dict(Counter(db.session.execute(select(ProviderEventReceipt.outcome)).scalars())) == {
        "recorded": 2
    }
    workers.stop_worker()
    cy = "cy@example.net"
    body = json.dumps([_bounce(spring[cy], cy)]).encode()
    assert client.post(SENDGRID, data=body, headers=signing.sendgrid_headers(body)).status_code == 200
    assert workers.queue_depths()[("provider_events", "waiting")] == 1  # the first job started: a new one
    workers.start_worker(threads=2)
    worker.drain()
    assert suppression_reason(people[2]) == "hard_bounce"


def test_a_providers_unsubscribe_records_the_notice_of_the_contacts_language(
    app, client, news, people, worker
):
    """An unsubscribe reported by the provider names the privacy notice the person read: the Italian reader's
    Italian version, the English one for a person whose language is not known (issue 16)."""
    from mailer.privacy.notice import current_notice

    _, spring = send_campaign(worker, news, "Spring")
    app.extensions["mailer.workers"].stop_worker()
    ann, bob = "ann@example.net", "bob@example.net"
    english, italian = current_notice(), current_notice("it")
    db.session.get(Contact, people[0].id).language = "it"
    db.session.commit()
    items = [signing.sendgrid_event("unsubscribe", spring[a].message_id, a) for a in (ann, bob)]

    assert _batch(client, items) == {"recorded": 2}

    left = db.session.execute(
        select(ConsentEvent).where(ConsentEvent.action == "withdrawn").order_by(ConsentEvent.contact_id)
    ).scalars()
    assert [(e.contact_id, e.notice.key, e.notice.version) for e in left] == [
        (people[0].id, "privacy-notice:it", italian.version),
        (people[1].id, "privacy-notice", english.version),
    ]
    assert verify_chain().ok
