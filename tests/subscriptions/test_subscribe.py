"""One subscribe() for every door: the form, the API, the CSV import and the preference centre differ only by
their Door (source, basis, notice, whether staff act for the person); the ledger rows, the subscription and
the confirmation email follow from the one rule."""

from email import message_from_bytes
from email.policy import default

import pytest
from sqlalchemy import select

from mailer.consent.ledger import RequestContext, record_consent
from mailer.consent.models import ConsentEvent
from mailer.consent.notices import publish_notice
from mailer.contacts.models.contact import ContactStatus
from mailer.contacts.operations import email_hash, get_or_create_contact
from mailer.contacts.suppression import suppress
from mailer.core.extensions import db
from mailer.subscriptions.lists import create_list
from mailer.subscriptions.models.lists import Subscription, SubscriptionStatus
from mailer.subscriptions.operations import Basis, Door, Outcome, sign_up, subscribe
from tests.support.signup import outbox_to

CTX = RequestContext("test-door", "192.0.2.7", "Browser/1.0")
FORM = Door(CTX, "form", details={"form": "demo"})
API = Door(CTX, "api:abc", details={"api_key": "abc"})
PREFERENCES = Door(CTX, "preference-centre", Basis.VERIFIED, details={"via": "preference-centre"})
IMPORT_INVITE = Door(CTX, "import:x", details={"import": "x"}, by_person=False)
IMPORT_PROVEN = Door(
    CTX, "import:x", Basis.PRIOR_CONSENT, details={"statement": "Trade fair"}, by_person=False
)

# Starting state -> per door: (outcome, subscription status after, ledger action written or None).
CASES = [
    ("new", FORM, Outcome.REQUESTED, SubscriptionStatus.PENDING, "requested"),
    ("new", API, Outcome.REQUESTED, SubscriptionStatus.PENDING, "requested"),
    ("new", PREFERENCES, Outcome.GRANTED, SubscriptionStatus.CONFIRMED, "granted"),
    ("new", IMPORT_INVITE, Outcome.REQUESTED, SubscriptionStatus.PENDING, "requested"),
    ("new", IMPORT_PROVEN, Outcome.GRANTED, SubscriptionStatus.CONFIRMED, "granted"),
    ("subscribed", FORM, Outcome.ALREADY, SubscriptionStatus.CONFIRMED, None),
    ("subscribed", IMPORT_INVITE, Outcome.ALREADY, SubscriptionStatus.CONFIRMED, None),
    ("subscribed", IMPORT_PROVEN, Outcome.ALREADY, SubscriptionStatus.CONFIRMED, None),
    ("asked", FORM, Outcome.REQUESTED, SubscriptionStatus.PENDING, "requested"),  # the person asks again
    ("asked", IMPORT_INVITE, Outcome.ASKED, SubscriptionStatus.PENDING, None),  # staff do not ask twice
    ("asked", IMPORT_PROVEN, Outcome.GRANTED, SubscriptionStatus.CONFIRMED, "granted"),
    ("left", FORM, Outcome.REQUESTED, SubscriptionStatus.PENDING, "requested"),
    ("left", PREFERENCES, Outcome.GRANTED, SubscriptionStatus.CONFIRMED, "granted"),
    ("left", IMPORT_INVITE, Outcome.OPTED_OUT, SubscriptionStatus.UNSUBSCRIBED, None),
    ("left", IMPORT_PROVEN, Outcome.OPTED_OUT, SubscriptionStatus.UNSUBSCRIBED, None),
    # Unsubscribed from everything: only a fresh double opt-in brings the address back (J4), from any door.
    ("suppressed", FORM, Outcome.REQUESTED, SubscriptionStatus.PENDING, "requested"),
    ("suppressed", PREFERENCES, Outcome.REQUESTED, SubscriptionStatus.PENDING, "requested"),
    ("suppressed", IMPORT_PROVEN, Outcome.OPTED_OUT, SubscriptionStatus.CONFIRMED, None),
]


def _contact_in(state: str, news):
    """A contact whose relation to the list is `state`: new, subscribed, asked, left or suppressed."""
    contact, _ = get_or_create_contact("ann@example.com", source="form")
    sub_status, actions = {
        "new": (None, []),
        "subscribed": (SubscriptionStatus.CONFIRMED, ["requested", "confirmed"]),
        "asked": (SubscriptionStatus.PENDING, ["requested"]),
        "left": (SubscriptionStatus.UNSUBSCRIBED, ["requested", "confirmed", "withdrawn"]),
        "suppressed": (SubscriptionStatus.CONFIRMED, ["requested", "confirmed"]),
    }[state]
    if sub_status is not None:
        db.session.add(Subscription(contact_id=contact.id, list_id=news.id, status=sub_status))
    for action in actions:
        record_consent(contact, news.purpose, action, RequestContext("setup"))
    if state == "suppressed":
        suppress(email_hash("ann@example.com"), "unsubscribed")
    db.session.commit()
    return contact


@pytest.mark.parametrize(
    "state, door, outcome, status, action",
    CASES,
    ids=[f"{state}-{door.source}-{door.basis}" for state, door, *_ in CASES],
)
def test_every_door_applies_the_same_rule(app_ctx, state, door, outcome, status, action):
    news = create_list("News")
    contact = _contact_in(state, news)
    before = db.session.execute(select(db.func.max(ConsentEvent.id))).scalar() or 0
    result = subscribe(contact, [news.purpose], door)
    db.session.commit()
    assert result.outcomes == [(news.purpose, outcome)]
    assert result.needs_confirmation == (outcome == Outcome.REQUESTED)
    sub = db.session.execute(select(Subscription).where(Subscription.contact_id == contact.id)).scalar()
    assert (sub.status if sub else SubscriptionStatus.UNSUBSCRIBED) == status
    events = db.session.execute(select(ConsentEvent).where(ConsentEvent.id > before)).scalars().all()
    assert [(e.action, e.source, e.purpose_id, e.details) for e in events] == (
        [(action, CTX.source, news.purpose.id, door.details)] if action else []
    )


def test_sign_up_records_the_words_shown_and_sends_one_confirmation_email(app_ctx, worker):
    """A person's own sign-up (form, API): pending, one "requested" event against the notice, one email."""
    news, offers = create_list("News"), create_list("Offers")
    db.session.commit()
    door = Door(CTX, "api:abc", details={"api_key": "abc"})
    shown = ("api:abc:page", {"intro": "Yes, send me the news and the offers."})
    sign_up("ann@example.com", "Ann", [news.purpose, offers.purpose], door, publish=shown)
    worker.drain()
    notice = publish_notice(*shown)  # the same words: the version published by the sign-up
    events = db.session.execute(select(ConsentEvent).order_by(ConsentEvent.id)).scalars().all()
    assert [(e.action, e.purpose_id, e.notice_id) for e in events if e.action == "requested"] == [
        ("requested", news.purpose.id, notice.id),
        ("requested", offers.purpose.id, notice.id),
    ]
    [mail] = outbox_to("ann@example.com")
    text = message_from_bytes(mail.raw, policy=default).get_body(("plain",)).get_content()
    assert "News" in text and "Offers" in text


def test_a_restricted_person_is_not_signed_up_and_nothing_is_recorded(app_ctx, worker):
    news = create_list("News")
    contact, _ = get_or_create_contact("ann@example.com", source="form")
    contact.status = ContactStatus.RESTRICTED
    db.session.commit()
    sign_up("ann@example.com", "Ann", [news.purpose], FORM)
    worker.drain()
    assert db.session.execute(select(ConsentEvent)).first() is None
    assert db.session.execute(select(Subscription)).first() is None
    assert outbox_to("ann@example.com") == []
