"""The set-based triggers (joining a segment, the day of a date field), list steps with the consent rules of a
staff addition, and a relay per journey: each checked on what a person would see (the email that arrived, the
subscription, the ledger and audit rows)."""

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, text

from mailer.audit.models import AuditEvent
from mailer.campaigns.relays import remove_relay
from mailer.consent.models import ConsentEvent
from mailer.contacts import fields as contact_fields
from mailer.contacts import tags as contact_tags
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery.relays import RelayError, RelayFields, TlsMode, save_relay
from mailer.journeys import operations as journeys
from mailer.journeys import triggers
from mailer.journeys.models import Enrolment, JourneyStepCampaign, Trigger
from mailer.journeys.steps import JourneyError, StepInput
from mailer.segments.operations import save_segment
from mailer.subscriptions.lists import create_list
from mailer.subscriptions.models.lists import Subscription
from tests.journeys.test_engine import subjects, tick
from tests.support.campaigns import make_layout, subscriber
from tests.support.relay import RecordingRelay
from tests.support.smtp import _free_port

HELLO = "# Hello {{ contact.first_name | default('friend') }}\n\nGood to see you."


def _journey(mailing_list, trigger, steps=None, **options):
    journey = journeys.create_journey(
        journeys.JourneyInput(
            name="Automation", trigger=trigger, list_id=mailing_list.id, layout_id=make_layout().id, **options
        )
    )
    for step in steps or [StepInput(kind="send", subject="Hello there", body=HELLO)]:
        journeys.add_step(journey, step)
    journeys.activate(journey)
    db.session.commit()
    return journey


def _look_again(journey) -> None:
    """The trigger interval has passed since the journey's last look."""
    db.session.execute(
        text("UPDATE journeys SET trigger_checked_at = :at WHERE id = :id"),
        {"at": utcnow() - timedelta(days=1), "id": journey.id},
    )
    db.session.commit()


def _entered(journey) -> set[int]:
    db.session.expire_all()
    return set(
        db.session.execute(select(Enrolment.contact_id).where(Enrolment.journey_id == journey.id)).scalars()
    )


def _vip_segment():
    segment = save_segment(
        "VIPs", {"match": "all", "rules": [{"field": "tag", "op": "has", "value": "vip"}]}, actor=None
    )
    db.session.commit()
    return segment


def test_new_segment_members_enter_and_get_the_email_once(app_ctx, worker, smtp_server):
    news = create_list("News")
    ann, bob, _cat = (subscriber(news, f"{n}@example.com", n.title()) for n in ("ann", "bob", "cat"))
    contact_tags.add_tag(ann, "vip", None)  # a member before the journey starts: the baseline
    segment = _vip_segment()
    journey = _journey(news, Trigger.SEGMENT_JOINED, trigger_segment_id=segment.id)
    assert _entered(journey) == set()

    contact_tags.add_tag(bob, "vip", None)
    db.session.commit()
    tick(worker)  # within the interval of the first look: nothing yet
    assert _entered(journey) == set()
    _look_again(journey)
    tick(worker)
    assert _entered(journey) == {bob.id}
    assert subjects(smtp_server, "bob@example.com") == ["Hello there"]
    assert subjects(smtp_server, "ann@example.com") == [] and subjects(smtp_server, "cat@example.com") == []

    _look_again(journey)
    tick(worker)  # still a member: no second entry, no second email
    assert subjects(smtp_server, "bob@example.com") == ["Hello there"]
    assert _entered(journey) == {bob.id}


def test_existing_members_too_and_only_contacts_on_the_list(app_ctx, worker, smtp_server):
    news, other = create_list("News"), create_list("Other")
    ann = subscriber(news, "ann@example.com", "Ann")
    dan = subscriber(other, "dan@example.com", "Dan")  # in the segment, not on the journey's list
    for person in (ann, dan):
        contact_tags.add_tag(person, "vip", None)
    segment = _vip_segment()
    journey = _journey(news, Trigger.SEGMENT_JOINED, trigger_segment_id=segment.id, include_existing=True)
    assert _entered(journey) == {ann.id}
    tick(worker)
    assert subjects(smtp_server, "ann@example.com") == ["Hello there"]
    assert subjects(smtp_server, "dan@example.com") == []


def test_a_segment_trigger_needs_a_segment(app_ctx):
    news = create_list("News")
    with pytest.raises(JourneyError, match="segment"):
        journeys.create_journey(
            journeys.JourneyInput(name="x", trigger=Trigger.SEGMENT_JOINED, list_id=news.id)
        )


def test_yearly_days_include_29_february_on_the_28th_of_other_years():
    days = triggers.days_matching(date(2027, 2, 28), yearly=True)
    assert date(1990, 2, 28) in days and date(2000, 2, 29) in days and date(2027, 2, 28) not in days
    assert date(2000, 2, 29) in triggers.days_matching(date(2028, 2, 29), yearly=True)
    assert triggers.days_matching(date(2026, 5, 1), yearly=False) == [date(2026, 5, 1)]


def _birthday_field():
    field = contact_fields.define_field("birthday", "Birthday", "ordinary", value_type="date")
    db.session.commit()
    return field


def _born(mailing_list, name, zone, day, field):
    person = subscriber(mailing_list, f"{name}@example.com", name.title())
    person.attributes = {"timezone": zone} if zone else {}
    contact_fields.set_value(person, field, day)
    db.session.commit()
    return person


def test_birthday_enters_on_the_day_from_the_hour_in_each_contacts_time_zone(app_ctx, worker, smtp_server):
    news = create_list("News")
    field = _birthday_field()
    berlin = _born(news, "berta", "Europe/Berlin", "1990-03-10", field)
    york = _born(news, "yorick", "America/New_York", "1985-03-10", field)
    plain = _born(news, "una", None, "2001-03-10", field)  # no zone of her own: the journey's (UTC)
    other_day = _born(news, "otto", "Europe/Berlin", "1990-03-11", field)
    journey = _journey(news, Trigger.DATE_FIELD, date_field_id=field.id, date_hour=9)

    morning = datetime(2026, 3, 10, 8, 30)  # 09:30 in Berlin, 08:30 UTC, 03:30 in New York
    assert triggers.enrol_dates(journey, morning) == 1
    assert _entered(journey) == {berlin.id}
    afternoon = datetime(2026, 3, 10, 13, 30)  # 14:30 in Berlin (entered already), 09:30 in New York
    assert triggers.enrol_dates(journey, afternoon) == 2
    assert _entered(journey) == {berlin.id, york.id, plain.id}
    db.session.commit()
    tick(worker)
    for person in (berlin, york, plain):
        assert subjects(smtp_server, person.email) == ["Hello there"]
    assert subjects(smtp_server, other_day.email) == []

    # A year later they come round again (a yearly date is a new round each year).
    journeys_done = db.session.execute(
        select(Enrolment.state).where(Enrolment.journey_id == journey.id)
    ).scalars()
    assert set(journeys_done) == {"done"}
    assert triggers.enrol_dates(journey, datetime(2027, 3, 10, 15, 0)) == 3  # 16:00, 10:00, 15:00
    rounds = db.session.execute(
        select(Enrolment.round).where(Enrolment.journey_id == journey.id, Enrolment.contact_id == berlin.id)
    ).scalars()
    assert sorted(rounds) == [1, 2]


def test_renewal_date_a_week_early_only_on_that_date(app_ctx):
    news = create_list("News")
    field = contact_fields.define_field("renewal", "Renewal", "ordinary", value_type="date")
    db.session.commit()
    due = _born(news, "rita", None, "2026-06-15", field)
    _born(news, "last_year", None, "2025-06-15", field)
    journey = _journey(
        news, Trigger.DATE_FIELD, date_field_id=field.id, date_hour=0, date_yearly=False, date_offset_days=-7
    )
    assert triggers.enrol_dates(journey, datetime(2026, 6, 7, 12, 0)) == 0
    assert triggers.enrol_dates(journey, datetime(2026, 6, 8, 12, 0)) == 1
    assert _entered(journey) == {due.id}


def test_a_date_trigger_needs_a_date_field(app_ctx):
    news = create_list("News")
    text_field = contact_fields.define_field("company", "Company", "ordinary")
    db.session.commit()
    with pytest.raises(JourneyError, match="date field"):
        journeys.create_journey(
            journeys.JourneyInput(
                name="x", trigger=Trigger.DATE_FIELD, list_id=news.id, date_field_id=text_field.id
            )
        )


STATEMENT = "Ticked the partner box on the paper form at the 2026 fair"


def _ledger(contact_id, purpose_id) -> list[tuple[str, dict]]:
    return [
        (event.action, event.details or {})
        for event in db.session.execute(
            select(ConsentEvent)
            .where(ConsentEvent.contact_id == contact_id, ConsentEvent.purpose_id == purpose_id)
            .order_by(ConsentEvent.id)
        ).scalars()
    ]


def _status(contact_id, list_id):
    db.session.expire_all()
    return db.session.execute(
        select(Subscription.status).where(
            Subscription.contact_id == contact_id, Subscription.list_id == list_id
        )
    ).scalar_one_or_none()


def test_list_steps_follow_the_staff_consent_rules_and_are_audited(app_ctx, worker, smtp_server):
    news, partners, invited, trial = (create_list(n) for n in ("News", "Partners", "Invited", "Trial"))
    ann = subscriber(news, "ann@example.com", "Ann")
    subscriber(trial, "ann@example.com", "Ann")
    db.session.commit()
    journey = _journey(
        news,
        Trigger.API,
        [
            StepInput(kind="add_list", list_id=partners.id, basis="has_consent", statement=STATEMENT),
            StepInput(kind="add_list", list_id=invited.id, basis="double_opt_in"),
            StepInput(kind="remove_list", list_id=trial.id),
        ],
    )
    journeys.enrol(journey, ann.id, "api")
    db.session.commit()
    tick(worker)

    assert _status(ann.id, partners.id) == "confirmed"
    granted = _ledger(ann.id, partners.purpose.id)[-1]
    assert granted[0] == "granted" and granted[1]["statement"] == STATEMENT
    assert granted[1]["actor"] == "journey" and granted[1]["journey"] == journey.public_id
    assert _status(ann.id, invited.id) == "pending"  # asked by email, added when they confirm
    assert [m.message["Subject"] for m in smtp_server.to("ann@example.com")]  # the double opt-in email
    assert _status(ann.id, trial.id) == "unsubscribed"
    assert _ledger(ann.id, trial.purpose.id)[-1][0] == "withdrawn"
    audited = db.session.execute(
        select(AuditEvent.action, AuditEvent.details).where(AuditEvent.action.like("journey.%"))
    ).all()
    assert sorted(a for a, _ in audited) == ["journey.list_add", "journey.list_add", "journey.list_remove"]
    assert all(d["actor"] == "journey" and d["journey"] == journey.public_id for _, d in audited)


def test_adding_to_a_list_on_prior_consent_needs_the_statement(app_ctx):
    news, partners = create_list("News"), create_list("Partners")
    journey = _journey(news, Trigger.API)
    with pytest.raises(JourneyError, match="where and how"):
        journeys.add_step(journey, StepInput(kind="add_list", list_id=partners.id, basis="has_consent"))
    with pytest.raises(JourneyError, match="how the person agreed"):
        journeys.add_step(journey, StepInput(kind="add_list", list_id=partners.id, basis="because"))


@pytest.mark.config(SEND_RATE_PER_SECOND=0)
def test_the_journeys_emails_go_through_its_relay(app_ctx, worker, smtp_server):
    relay = RecordingRelay(_free_port())
    relay.start()
    try:
        named = save_relay(
            None, RelayFields(name="journeys", host="127.0.0.1", port=relay.port, tls_mode=TlsMode.NONE)
        )
        news = create_list("News")
        ann = subscriber(news, "ann@example.com", "Ann")
        db.session.commit()
        journey = _journey(news, Trigger.API, relay_id=named.id)
        journeys.enrol(journey, ann.id, "api")
        db.session.commit()
        tick(worker)
        assert [m.rcpt for m in relay.snapshot()[0]] == ["ann@example.com"]
        assert smtp_server.to("ann@example.com") == []  # not through the default relay
        campaign_id = db.session.execute(select(JourneyStepCampaign.campaign_id)).scalar_one()
        assert (
            db.session.execute(
                text("SELECT relay FROM deliveries WHERE campaign_id = :id"), {"id": campaign_id}
            ).scalar_one()
            == "journeys"
        )
        with pytest.raises(RelayError, match="still to send"):  # it would silently move to another relay
            remove_relay(named)
    finally:
        relay.close()
