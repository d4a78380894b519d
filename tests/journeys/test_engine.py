"""Journeys end to end: a confirmed subscription starts a welcome series; the scheduler moves people on;
each send step goes out once through the campaigns' delivery path; consent is checked before every step."""

from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, text

from mailer.consent.ledger import RequestContext
from mailer.contacts import tags as contact_tags
from mailer.contacts.models.contact import Contact
from mailer.core.broker import enqueue
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery.models import Delivery
from mailer.journeys import engine
from mailer.journeys import operations as journeys
from mailer.journeys.models import Enrolment, JourneyEvent, JourneyStepCampaign, Trigger
from mailer.journeys.sending import send_batch
from mailer.journeys.steps import JourneyError, StepInput, wait_until, zone
from mailer.privacy.erasure import erase_contact
from mailer.privacy.objection import ensure_direct_marketing_purpose, object_to
from mailer.privacy.restriction import restrict
from mailer.subscriptions.lists import create_list
from mailer.subscriptions.models.lists import MailingList
from mailer.subscriptions.signup import confirmation_token
from tests.support.campaigns import make_layout, subscriber
from tests.support.signup import contact_by_email, sign_up

CTX = RequestContext("test")
WELCOME = (
    "# Welcome, {{ contact.first_name | default('friend') }}\n\nRead [our guide](https://example.org/guide)."
)
SECOND = "# Day two\n\nHere is [the next step](https://example.org/next)."


def welcome_series(mailing_list, trigger=Trigger.LIST_CONFIRMED, **options):
    """Welcome email → wait two days → second email, active."""
    journey = journeys.create_journey(
        journeys.JourneyInput(
            name="Welcome series",
            trigger=trigger,
            list_id=mailing_list.id,
            layout_id=make_layout().id,
            **options,
        )
    )
    journeys.add_step(journey, StepInput(kind="send", subject="Welcome aboard", body=WELCOME))
    journeys.add_step(journey, StepInput(kind="wait", wait_mode="duration", wait_days=2))
    journeys.add_step(journey, StepInput(kind="send", subject="Your second day", body=SECOND))
    journeys.activate(journey)
    db.session.commit()
    return journey


def tick(worker) -> None:
    """What the scheduler does every JOURNEY_TICK_SECONDS: queue the journeys' pass; the worker runs it."""
    enqueue("advance_journeys")
    worker.drain()


def time_passes(journey) -> None:
    """The waits are over (moves every active enrolment's due time into the past)."""
    db.session.execute(
        text("UPDATE journey_enrolments SET due_at = :now WHERE journey_id = :id AND state = 'active'"),
        {"now": utcnow() - timedelta(seconds=1), "id": journey.id},
    )
    db.session.commit()


def enrolment_of(journey, contact_id) -> Enrolment:
    db.session.expire_all()
    return db.session.execute(
        select(Enrolment).where(Enrolment.journey_id == journey.id, Enrolment.contact_id == contact_id)
    ).scalar_one()


def subjects(smtp_server, address) -> list[str]:
    return [m.message["Subject"] for m in smtp_server.to(address)]


def test_confirm_welcome_wait_and_second_email_only_for_who_stayed(
    app_ctx, client, demo_form, worker, smtp_server
):
    demo_list = db.session.get(MailingList, demo_form.lists[0].id)
    journey = welcome_series(demo_list)
    for email, name in (("ann@example.com", "Ann"), ("bob@example.com", "Bob")):
        assert sign_up(client, email=email, name=name).status_code in (200, 303)
    worker.drain()
    assert not db.session.execute(select(Enrolment)).first()  # pending sign-ups enter nothing
    for email in ("ann@example.com", "bob@example.com"):
        assert client.post(f"/confirm/{confirmation_token(contact_by_email(email))}").status_code == 200
    ann, bob = contact_by_email("ann@example.com"), contact_by_email("bob@example.com")
    tick(worker)

    for person in (ann, bob):
        assert subjects(smtp_server, person.email).count("Welcome aboard") == 1
        enrolment = enrolment_of(journey, person.id)
        assert enrolment.state == "active" and enrolment.due_at > utcnow() + timedelta(days=1, hours=23)
    welcome = smtp_server.to(ann.email)[-1].message
    assert "Welcome, Ann" in welcome.get_body(("plain",)).get_content()
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"  # the same headers as campaigns
    assert "Unsubscribe" in welcome.get_body(("html",)).get_content()

    # Bob leaves through the one-click link of the welcome email, between the two steps.
    bob_welcome = smtp_server.to(bob.email)[-1].message
    https = next(p.strip(" <>") for p in bob_welcome["List-Unsubscribe"].split(",") if "http" in p)
    response = client.post(urlsplit(https).path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200

    time_passes(journey)
    tick(worker)
    tick(worker)  # a second pass changes nothing

    assert subjects(smtp_server, ann.email).count("Your second day") == 1
    assert "Your second day" not in subjects(smtp_server, bob.email)
    assert enrolment_of(journey, ann.id).state == "done"
    left = enrolment_of(journey, bob.id)
    assert (left.state, left.exit_reason) == ("exited", "unsubscribed")


def test_each_step_is_sent_once_whatever_is_delivered_twice(app_ctx, worker, smtp_server):
    demo = db.session.get(MailingList, _list("News").id)
    person = subscriber(demo, "cat@example.com", "Cat")
    db.session.commit()
    journey = welcome_series(demo, trigger=Trigger.API)
    journeys.enrol(journey, person.id, "api")
    db.session.commit()

    assert engine.advance_due() == 1
    assert engine.advance_due() == 0  # nothing is due any more: the pass took it
    campaign_id = db.session.execute(select(JourneyStepCampaign.campaign_id)).scalars().first()
    [delivery] = db.session.execute(select(Delivery).where(Delivery.campaign_id == campaign_id)).scalars()
    worker.drain()
    send_batch(campaign_id, delivery.batch)  # the batch message delivered a second time
    worker.drain()
    assert subjects(smtp_server, "cat@example.com") == ["Welcome aboard"]
    db.session.expire_all()
    assert db.session.get(Delivery, delivery.id).status == "sent"


def _list(name):
    mailing_list = create_list(name)
    db.session.commit()
    return mailing_list


@pytest.mark.parametrize("how", ["restricted", "objected", "erased"])
def test_a_contact_who_may_not_be_mailed_leaves_every_journey_at_once(app_ctx, worker, smtp_server, how):
    news = _list("News")
    person = subscriber(news, "dan@example.com", "Dan Person")
    db.session.commit()
    journey = welcome_series(news, trigger=Trigger.API)
    journeys.enrol(journey, person.id, "api")
    db.session.commit()
    engine.advance_due()
    worker.drain()
    assert subjects(smtp_server, "dan@example.com") == ["Welcome aboard"]
    enrolment_id = enrolment_of(journey, person.id).id

    contact = db.session.get(Contact, person.id)
    if how == "restricted":
        restrict(contact, CTX)
    elif how == "objected":
        object_to(contact, [ensure_direct_marketing_purpose()], CTX)
    else:
        erase_contact(contact, CTX)
    db.session.commit()

    db.session.expire_all()
    enrolment = db.session.get(Enrolment, enrolment_id)
    assert (enrolment.state, enrolment.exit_reason) == ("exited", how)
    assert enrolment.due_at is None
    if how == "erased":
        assert enrolment.contact_id is None  # nothing in journey state points at the person
        details = " ".join(db.session.execute(select(JourneyEvent.detail)).scalars())
        assert "dan" not in details.lower()
    time_passes(journey)
    engine.advance_due()
    worker.drain()
    assert subjects(smtp_server, "dan@example.com") == ["Welcome aboard"]


def test_send_time_check_stops_a_message_queued_before_the_unsubscribe(app_ctx, worker, smtp_server):
    news = _list("News")
    person = subscriber(news, "eve@example.com", "Eve")
    db.session.commit()
    journey = welcome_series(news, trigger=Trigger.API)
    journeys.enrol(journey, person.id, "api")
    db.session.commit()
    engine.advance_due()  # the welcome is queued; the worker has not sent it yet
    db.session.execute(
        text("UPDATE subscriptions SET status = 'unsubscribed' WHERE contact_id = :id"), {"id": person.id}
    )
    db.session.commit()
    worker.drain()
    assert smtp_server.to("eve@example.com") == []
    db.session.expire_all()
    [delivery] = db.session.execute(select(Delivery)).scalars()
    assert (delivery.status, delivery.reason) == ("skipped", "unsubscribed")


def test_tag_trigger_branch_and_tag_steps(app_ctx, worker, smtp_server):
    news = _list("News")
    vip = contact_tags.ensure_tag("VIP")
    done = contact_tags.ensure_tag("Onboarded")
    journey = journeys.create_journey(
        journeys.JourneyInput(
            name="VIP",
            trigger=Trigger.TAG_ADDED,
            list_id=news.id,
            trigger_tag_id=vip.id,
            layout_id=make_layout().id,
        )
    )
    journeys.add_step(journey, StepInput(kind="branch", branch_on="list", list_id=news.id))
    journeys.add_step(journey, StepInput(kind="send", subject="For our VIPs", body=WELCOME))
    journeys.add_step(journey, StepInput(kind="add_tag", tag_id=done.id))
    journeys.activate(journey)
    fay = subscriber(news, "fay@example.com", "Fay")
    gus = subscriber(news, "gus@example.com", "Gus", status="pending", consent=False)
    db.session.commit()

    for person in (fay, gus):
        contact_tags.add_tag(db.session.get(Contact, person.id), "vip", "test")
    db.session.commit()
    assert db.session.execute(select(func.count()).select_from(Enrolment)).scalar_one() == 2
    engine.advance_due()
    worker.drain()

    assert subjects(smtp_server, "fay@example.com") == ["For our VIPs"]
    assert smtp_server.to("gus@example.com") == []
    assert [t.name for t in contact_tags.tags_of([fay.id])[fay.id]] == ["Onboarded", "VIP"]
    assert enrolment_of(journey, fay.id).state == "done"
    gus_enrolment = enrolment_of(journey, gus.id)
    assert (gus_enrolment.state, gus_enrolment.exit_reason) == (
        "exited",
        "unconfirmed",
    )  # not on the list yet


def test_reentry_sends_the_steps_again_only_when_allowed(app_ctx, worker, smtp_server):
    news = _list("News")
    hey = subscriber(news, "hey@example.com", "Hey")
    db.session.commit()
    once = welcome_series(news, trigger=Trigger.API)
    again = welcome_series(news, trigger=Trigger.API, reentry=True)
    for journey in (once, again):
        assert journeys.enrol(journey, hey.id, "api") is not None
        assert journeys.enrol(journey, hey.id, "api") is None  # already in it
    db.session.commit()
    engine.advance_due()
    time_passes(once)
    time_passes(again)
    engine.advance_due()
    assert journeys.enrol(once, hey.id, "api") is None  # no re-entry
    assert journeys.enrol(again, hey.id, "api") is not None
    db.session.commit()
    engine.advance_due()
    worker.drain()
    assert subjects(smtp_server, "hey@example.com").count("Welcome aboard") == 3
    assert subjects(smtp_server, "hey@example.com").count("Your second day") == 2
    rounds = db.session.execute(select(Enrolment.round).where(Enrolment.journey_id == again.id)).scalars()
    assert sorted(rounds) == [1, 2]


def test_paused_journey_holds_everyone_until_resumed(app_ctx, worker, smtp_server):
    news = _list("News")
    ivy = subscriber(news, "ivy@example.com", "Ivy")
    db.session.commit()
    journey = welcome_series(news, trigger=Trigger.API)
    journeys.pause(journey)
    journeys.enrol(journey, ivy.id, "api")
    db.session.commit()
    assert engine.advance_due() == 0
    journeys.activate(journey)
    db.session.commit()
    assert engine.advance_due() == 1
    worker.drain()
    assert subjects(smtp_server, "ivy@example.com") == ["Welcome aboard"]


def test_existing_subscribers_enter_only_when_asked(app_ctx):
    news = _list("News")
    subscriber(news, "jo@example.com", "Jo")
    subscriber(news, "kim@example.com", "Kim")
    db.session.commit()
    only_new = welcome_series(news)
    with_existing = welcome_series(news, include_existing=True)
    count = select(func.count()).select_from(Enrolment)
    assert db.session.execute(count.where(Enrolment.journey_id == only_new.id)).scalar_one() == 0
    assert db.session.execute(count.where(Enrolment.journey_id == with_existing.id)).scalar_one() == 2
    journeys.pause(with_existing)
    journeys.activate(with_existing)  # once only
    db.session.commit()
    assert db.session.execute(count.where(Enrolment.journey_id == with_existing.id)).scalar_one() == 2


def test_steps_refuse_what_they_cannot_do(app_ctx):
    news = _list("News")
    journey = journeys.create_journey(journeys.JourneyInput(name="J", trigger=Trigger.API, list_id=news.id))
    with pytest.raises(JourneyError, match="subject"):
        journeys.add_step(journey, StepInput(kind="send", body="x"))
    with pytest.raises(JourneyError, match="at least a minute"):
        journeys.add_step(journey, StepInput(kind="wait", wait_mode="duration"))
    with pytest.raises(JourneyError, match="Add at least one step"):
        journeys.activate(journey)
    journeys.add_step(journey, StepInput(kind="send", subject="Hi", body="Hello"))
    with pytest.raises(JourneyError, match="layout"):
        journeys.activate(journey)  # no layout chosen: the campaigns' own rule
    with pytest.raises(JourneyError, match="time zone"):
        journeys.update_journey(
            journey, journeys.JourneyInput(name="J", trigger="api", list_id=news.id, timezone="Mars/Base")
        )


def test_wait_until_a_weekday_and_hour_in_the_contacts_time_zone():
    tokyo, berlin = zone("Asia/Tokyo", "UTC"), zone("", "Europe/Berlin")
    assert zone("Not/AZone", "Europe/Berlin").key == "Europe/Berlin"
    monday_9 = {"mode": "until", "weekday": 0, "hour": 9}
    now = datetime(2030, 1, 2, 12, 0)  # a Wednesday, UTC
    assert wait_until(monday_9, now, tokyo) == datetime(2030, 1, 7, 0, 0)  # 09:00 JST is 00:00 UTC
    assert wait_until(monday_9, now, berlin) == datetime(2030, 1, 7, 8, 0)  # CET = UTC+1
    summer = datetime(2030, 7, 3, 12, 0)
    assert wait_until(monday_9, summer, berlin) == datetime(2030, 7, 8, 7, 0)  # CEST = UTC+2
    assert wait_until({"mode": "duration", "seconds": 90}, now, berlin) == now + timedelta(seconds=90)


def test_a_step_that_can_no_longer_be_built_pauses_the_journey_and_sends_nothing(
    app_ctx, worker, smtp_server
):
    news = _list("News")
    kim = subscriber(news, "kim@example.com", "Kim")
    db.session.commit()
    journey = welcome_series(news, trigger=Trigger.API, reentry=True)
    journey.layout.verified = False  # its footer was removed since: the campaigns' rule refuses it
    db.session.commit()
    journeys.enrol(journey, kim.id, "api")
    db.session.commit()
    engine.advance_due()  # round 1's campaign row was compiled when the journey started
    worker.drain()
    assert subjects(smtp_server, "kim@example.com") == ["Welcome aboard"]
    time_passes(journey)
    engine.advance_due()
    worker.drain()
    journeys.enrol(journey, kim.id, "api")  # round 2 needs a new campaign row, which can't be built now
    db.session.commit()
    engine.advance_due()
    worker.drain()
    db.session.expire_all()
    assert journey.status == "paused"
    second_round = db.session.execute(
        select(Enrolment).where(Enrolment.journey_id == journey.id, Enrolment.round == 2)
    ).scalar_one()
    assert second_round.state == "active" and second_round.step_id == journey.steps[0].id
    assert subjects(smtp_server, "kim@example.com") == ["Welcome aboard", "Your second day"]
    assert db.session.execute(select(func.count()).select_from(JourneyStepCampaign)).scalar_one() == 2
