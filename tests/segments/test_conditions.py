"""Segment semantics on both backends: each condition, AND/OR groups, consent-limited activity, sensitive
fields refused, hostile trees refused with a reason."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from mailer.consent.ledger import RequestContext, record_consent
from mailer.consent.models import ConsentState, Purpose
from mailer.contacts import fields as field_service
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.models.suppression import SuppressionReason
from mailer.contacts.suppression import suppress
from mailer.contacts.tags import add_tag
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.demo import seed_demo
from mailer.privacy.erasure import erase_contact
from mailer.segments.conditions import SegmentError, compile_tree, count
from mailer.subscriptions.lists import create_list
from mailer.tracking.models import TrackingEvent
from tests.support.campaigns import make_campaign, subscriber

CTX = RequestContext("test")


@pytest.fixture
def world(app_ctx):
    """Five people on two lists with fields, tags, consent, a bounce and tracked activity."""
    form = seed_demo()  # the demo form, list and tracking purposes
    news, offers = create_list("News"), create_list("Offers")
    plan = field_service.define_field(
        "plan", "Plan", "ordinary", value_type="single_choice", choices="Free\nPro"
    )
    topics = field_service.define_field(
        "topics", "Topics", "ordinary", value_type="multiple_choice", choices="Garden\nKitchen\nTools"
    )
    score = field_service.define_field("score", "Score", "ordinary", value_type="number")
    joined = field_service.define_field("joined", "Joined", "ordinary", value_type="date")
    member = field_service.define_field("member", "Member", "ordinary", value_type="yes_no")
    company = field_service.define_field("company", "Company", "ordinary")
    health = field_service.define_field("health", "Health condition", "sensitive")
    ann = subscriber(news, "ann@acme.example", "Ann", tracking=("tracking:open", "tracking:click"))
    bob = subscriber(news, "bob@other.example", "Bob", tracking=("tracking:open",))
    cat = subscriber(offers, "cat@acme.example", "Cat")
    dan = subscriber(news, "dan@acme.example", "Dan", status="pending", consent=False)
    eve = subscriber(offers, "eve@mail.example", "Eve", tracking=("tracking:open",))
    subscriber(news, "eve@mail.example")  # Eve is on both lists
    values = {
        ann: {
            "plan": "Pro",
            "topics": "Garden; Tools",
            "score": "42",
            "joined": "2024-05-01",
            "member": "yes",
            "company": "Acme Ltd",
        },
        bob: {"plan": "Free", "topics": "Kitchen", "score": "7.5", "joined": "2025-01-10", "member": "no"},
        cat: {"plan": "pro", "score": "100", "company": "Acme 100% Natural"},
    }
    fields = {f.key: f for f in (plan, topics, score, joined, member, company)}
    for person, answers in values.items():
        for key, value in answers.items():
            field_service.set_value(person, fields[key], value)
    add_tag(ann, "VIP", None)
    add_tag(cat, "vip", None)
    add_tag(cat, "fair 2025", None)
    suppress(eve.email_hash, SuppressionReason.HARD_BOUNCE)
    campaign = make_campaign([news])
    other = make_campaign([news])
    now = utcnow()
    db.session.add_all(
        [
            TrackingEvent(campaign_id=campaign.id, contact_id=ann.id, kind="open", created_at=now),
            TrackingEvent(campaign_id=campaign.id, contact_id=ann.id, kind="click", created_at=now),
            TrackingEvent(
                campaign_id=other.id, contact_id=bob.id, kind="open", created_at=now - timedelta(days=40)
            ),
            # A machine open (image proxy) is not a person's activity.
            TrackingEvent(
                campaign_id=campaign.id, contact_id=eve.id, kind="open", created_at=now, machine=True
            ),
        ]
    )
    cat.source = f"form:{form.slug}"
    cat.created_at = now - timedelta(days=400)
    db.session.commit()
    return {
        "people": {"ann": ann, "bob": bob, "cat": cat, "dan": dan, "eve": eve},
        "news": news,
        "offers": offers,
        "campaign": campaign,
        "other": other,
        "form": form,
        "health": health,
    }


def names(world, tree) -> set[str]:
    ids = set(db.session.execute(compile_tree(tree).query).scalars())
    return {name for name, person in world["people"].items() if person.id in ids}


def one(field, op, value=None, match="all"):
    return {"match": match, "rules": [{"field": field, "op": op, "value": value}]}


def test_built_in_conditions(world):
    assert names(world, one("email_domain", "is", "ACME.example")) == {"ann", "cat", "dan"}
    assert names(world, one("email_domain", "is_not", "acme.example")) == {"bob", "eve"}
    assert names(world, one("status", "is", "active")) == {"ann", "bob", "cat", "dan", "eve"}
    assert names(world, one("signed_up", "over_days_ago", 30)) == {"cat"}
    assert names(world, one("signed_up", "within_days", 30)) == {"ann", "bob", "dan", "eve"}
    assert names(world, one("source_form", "is", world["form"].slug)) == {"cat"}
    news = world["news"].public_id
    assert names(world, one("list", "confirmed", news)) == {"ann", "bob", "eve"}
    assert names(world, one("list", "pending", news)) == {"dan"}
    assert names(world, one("list", "not_on", news)) == {"cat", "dan"}
    assert names(world, one("consent", "granted", world["news"].purpose.public_id)) == {"ann", "bob", "eve"}
    assert names(world, one("tag", "has", "VIP")) == {"ann", "cat"}
    assert names(world, one("tag", "has_not", "vip")) == {"bob", "dan", "eve"}
    assert names(world, one("bounced", "yes")) == {"eve"}
    assert names(world, one("bounced", "no")) == {"ann", "bob", "cat", "dan"}


def test_language_condition(world):
    people = world["people"]
    people["ann"].language, people["bob"].language, people["cat"].language = "it", "de", "it"
    db.session.commit()
    assert names(world, one("language", "is", "it")) == {"ann", "cat"}
    assert names(world, one("language", "is_not", "it")) == {"bob", "dan", "eve"}
    assert names(world, one("language", "is_set")) == {"ann", "bob", "cat"}
    assert names(world, one("language", "is_not_set")) == {"dan", "eve"}
    with pytest.raises(SegmentError, match="the language is one of en, it, de, fr, es"):
        compile_tree(one("language", "is", "klingon"))


def test_custom_field_conditions_per_type(world):
    assert names(world, one("field:plan", "is", "pro")) == {"ann", "cat"}
    assert names(world, one("field:plan", "is_not", "Pro")) == {"bob", "dan", "eve"}
    assert names(world, one("field:topics", "has", "tools")) == {"ann"}
    assert names(world, one("field:topics", "has_not", "Garden")) == {"bob", "cat", "dan", "eve"}
    assert names(world, one("field:score", "gt", "10")) == {"ann", "cat"}  # numbers, not text: "100" > "10"
    assert names(world, one("field:score", "lte", "7,5")) == {"bob"}
    assert names(world, one("field:joined", "before", "2025-01-01")) == {"ann"}
    assert names(world, one("field:joined", "after", "2024-05-01")) == {"bob"}
    assert names(world, one("field:member", "yes")) == {"ann"}
    assert names(world, one("field:member", "no")) == {"bob"}
    assert names(world, one("field:member", "is_not_set")) == {"cat", "dan", "eve"}
    assert names(world, one("field:company", "contains", "100%")) == {
        "cat"
    }  # % is a character, not a wildcard
    assert names(world, one("field:company", "starts_with", "acme")) == {"ann", "cat"}
    assert names(world, one("field:company", "is_set")) == {"ann", "cat"}


def test_and_or_and_nested_groups(world):
    acme_or_vip = {
        "match": "any",
        "rules": [
            {"field": "email_domain", "op": "is", "value": "acme.example"},
            {"field": "tag", "op": "has", "value": "vip"},
        ],
    }
    assert names(world, acme_or_vip) == {"ann", "cat", "dan"}
    tree = {
        "match": "all",
        "rules": [
            {"field": "list", "op": "confirmed", "value": world["news"].public_id},
            {
                "match": "any",
                "rules": [
                    {"field": "field:plan", "op": "is", "value": "Pro"},
                    {"field": "bounced", "op": "yes"},
                ],
            },
        ],
    }
    assert names(world, tree) == {"ann", "eve"}
    assert count(tree).matching == 2


def test_activity_counts_only_people_who_consented_to_that_tracking(world):
    campaign = world["campaign"].public_id
    assert names(world, one("opened", "campaign", campaign)) == {"ann"}  # Eve's open was a machine
    # Not opening is only known of people whose opens are recorded: Cat and Dan never agreed to open tracking.
    assert names(world, one("opened", "not_campaign", campaign)) == {"bob", "eve"}
    assert names(world, one("clicked", "any_within_days", 7)) == {"ann"}
    assert names(world, one("clicked", "none_within_days", 7)) == set()  # only Ann agreed to click tracking
    assert names(world, one("opened", "any_within_days", 60)) == {"ann", "bob"}
    assert names(world, one("opened", "none_within_days", 30)) == {"bob", "eve"}
    counted = count(one("opened", "not_campaign", campaign))
    assert counted.matching == 2
    assert counted.unseen == {"Open tracking": 2}  # Cat and Dan: the condition cannot see them


def _unseen_counted_live(purpose_key: str) -> int:
    """The reference: contacts not erased without granted consent to that tracking, one by one."""
    purpose = db.session.execute(select(Purpose).where(Purpose.key == purpose_key)).scalar_one()
    granted = {
        state.contact_id
        for state in db.session.execute(
            select(ConsentState).where(
                ConsentState.purpose_id == purpose.id, ConsentState.status == "granted"
            )
        ).scalars()
    }
    people = db.session.execute(select(Contact)).scalars()
    return sum(1 for person in people if person.status != ContactStatus.ERASED and person.id not in granted)


def test_the_unseen_and_matching_counts_follow_consent_changes_and_erasure(world):
    """count() takes the unseen as everyone not erased minus who granted (two set counts, not a probe per
    contact) and leaves the erased out as a set: the same numbers as counting person by person, after a grant,
    a withdrawal and erasures of people who had and had not consented."""
    people, campaign = world["people"], world["campaign"].public_id
    opens = db.session.execute(select(Purpose).where(Purpose.key == "tracking:open")).scalar_one()
    offers = world["offers"].public_id
    tree = {"match": "any", "rules": [one("opened", "campaign", campaign), one("list", "confirmed", offers)]}

    def check(matching: set[str]) -> None:
        counted = count(tree)
        assert counted.unseen == {"Open tracking": _unseen_counted_live("tracking:open")}
        assert names(world, tree) == matching
        assert counted.matching == len(matching)

    check({"ann", "cat", "eve"})
    record_consent(people["cat"], opens, "granted", CTX)
    record_consent(people["ann"], opens, "withdrawn", CTX)
    db.session.commit()
    check({"cat", "eve"})  # Ann's open no longer counts: she withdrew
    erase_contact(people["cat"], CTX)  # consented, on Offers
    erase_contact(db.session.get(Contact, people["dan"].id), CTX)  # never consented
    db.session.commit()
    check({"eve"})
    assert count(tree).unseen == {"Open tracking": 1}  # Ann, who withdrew; Cat and Dan are erased


def test_sensitive_fields_are_never_a_criterion(world):
    with pytest.raises(SegmentError, match="sensitive field"):
        compile_tree(one("field:health", "is_set"))
    with pytest.raises(SegmentError, match="no such purpose"):
        compile_tree(one("consent", "granted", world["health"].purpose.public_id))


HOSTILE = [
    ([], "group of conditions"),
    ({"match": "all"}, "at least one condition"),
    ({"match": "some", "rules": []}, "all or any"),
    ({"match": "all", "rules": [], "sql": "DROP TABLE contacts"}, "all or any"),
    ({"match": "all", "rules": ["email"]}, "is an object"),
    (
        one("email_domain", "is", "x", match="all") | {"rules": [{"field": "email_domain", "op": "is"}]},
        "give a value",
    ),
    (one("email_domain", "like", "%"), "unknown operator"),
    (one("password", "is", "x"), "unknown field"),
    (one("field:nope", "is", "x"), "no field"),
    (one("status", "contains", "act"), "does not apply"),
    (one("status", "is", "deleted"), "status is one of"),
    (one("email_domain", "is", "acme.example' OR 1=1 --"), "domain like"),
    (one("email_domain", "is", ["acme.example"]), "must be text"),
    (one("email_domain", "is", "a" * 201), "too long"),
    (one("signed_up", "within_days", -1), "number of days"),
    (one("signed_up", "within_days", 10**12), "number of days"),
    (one("signed_up", "within_days", True), "number of days"),
    (one("signed_up", "before", "yesterday"), "YYYY-MM-DD"),
    (one("field:score", "gt", "lots"), "compared with a number"),
    (one("field:plan", "is", "Platinum"), "must be one of"),
    (one("tag", "has", "unknown tag"), "no tag"),
    (one("list", "confirmed", "nope"), "no such list"),
    (one("opened", "campaign", "nope"), "no such campaign"),
    (one("bounced", "yes", "please"), "takes no value"),
    (
        {"match": "all", "rules": [{"field": "status", "op": "is", "value": "active", "extra": 1}]},
        "nothing else",
    ),
    (
        {
            "match": "all",
            "rules": [
                {
                    "match": "all",
                    "rules": [
                        {
                            "match": "all",
                            "rules": [{"match": "any", "rules": [{"field": "bounced", "op": "yes"}]}],
                        }
                    ],
                }
            ],
        },
        "nested 3 deep",
    ),
    ({"match": "all", "rules": [{"field": "bounced", "op": "yes"}] * 41}, "40 conditions at most"),
]


@pytest.mark.parametrize(("tree", "message"), HOSTILE)
def test_hostile_trees_are_refused_with_a_reason(world, tree, message):
    with pytest.raises(SegmentError, match=message):
        compile_tree(tree)
    assert db.session.execute(select(Contact.id)).first() is not None  # nothing was harmed
