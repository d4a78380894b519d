"""Re-permission requests as a bulk action: confirmed subscribers of a list get one email each (in their
language, no advertising), the button keeps them (a "granted" ledger event, reason "reconfirmed"), and at the
deadline whoever did not answer leaves the list with a "withdrawn" event, as an unsubscribe does."""

import email
import quopri
import re
from datetime import timedelta
from email.header import decode_header, make_header

import pytest
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.bulk import operations as bulk
from mailer.bulk.models import BulkJob
from mailer.consent.ledger import RequestContext
from mailer.consent.models import ConsentEvent
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.privacy.erasure import erase_contact
from mailer.staff.accounts import create_staff
from mailer.subscriptions import reconfirmation
from mailer.subscriptions.lists import create_list
from mailer.subscriptions.models.lists import Subscription
from mailer.subscriptions.models.reconfirmations import ListReconfirmation
from mailer.subscriptions.operations import Basis, Door, subscribe
from tests.support.people import bare_contacts
from tests.support.signup import path_of

STAFF_DOOR = Door(RequestContext("admin"), "admin", Basis.PRIOR_CONSENT, by_person=False)


def _events(contact: Contact, action: str) -> list[ConsentEvent]:
    query = select(ConsentEvent).where(ConsentEvent.contact_id == contact.id, ConsentEvent.action == action)
    return list(db.session.execute(query.order_by(ConsentEvent.id)).scalars())


def _status(contact: Contact, list_id: int) -> str | None:
    query = select(Subscription.status).where(
        Subscription.contact_id == contact.id, Subscription.list_id == list_id
    )
    return db.session.execute(query).scalar_one_or_none()


def _text(received) -> tuple[str, str]:
    """(subject, decoded text part) of a received message."""
    message = email.message_from_bytes(received.data)
    subject = str(make_header(decode_header(message["Subject"])))
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return subject, part.get_payload(decode=True).decode("utf-8")
    return subject, quopri.decodestring(received.data).decode("utf-8", errors="replace")


def _keep_link(text: str, base: str) -> str:
    match = re.search(re.escape(base) + r"/stay/[A-Za-z0-9_.\-]+", text)
    assert match, "no keep link in the message"
    return match.group(0)


@pytest.fixture
def asked(app, app_ctx, worker, smtp_server):
    """Four people on News: Ann (Italian) and Bob confirmed, Cat confirmed but restricted, Dan only pending;
    a marketer asks the list to re-confirm within 14 days and the workers send the emails."""
    marketer = create_staff("m@example.com", "correct horse battery", "marketer")
    news = create_list("News")
    ann, bob, cat, dan = bare_contacts(4)
    ann.language = "it"
    for person in (ann, bob, cat):
        subscribe(person, [news.purpose], STAFF_DOOR)
    subscribe(dan, [news.purpose], Door(RequestContext("form"), "form:x", Basis.DOUBLE_OPT_IN))
    cat.status = ContactStatus.RESTRICTED
    db.session.commit()
    job = bulk.start_job(
        "list_reconfirm",
        news.public_id,
        [ann, bob, cat, dan],
        None,
        marketer,
        options=bulk.Options(days="14"),
    )
    db.session.commit()
    worker.drain()
    db.session.expire_all()
    return {"news": news, "people": (ann, bob, cat, dan), "job": db.session.get(BulkJob, job.id)}


def test_each_confirmed_subscriber_gets_one_email_in_their_language(app, asked, smtp_server):
    ann, bob, cat, dan = asked["people"]
    job = asked["job"]
    assert (job.status, job.done, job.changed, job.skipped) == ("done", 4, 2, 2)
    assert smtp_server.to(cat.email) == [] and smtp_server.to(dan.email) == []
    [to_ann] = smtp_server.to(ann.email)
    [to_bob] = smtp_server.to(bob.email)
    subject, text = _text(to_ann)
    assert "desidera ancora ricevere le nostre email?" in subject
    assert "News" in text and "Sì, mantenete la mia iscrizione" in text  # the catalogue's Italian button
    subject, text = _text(to_bob)
    assert "do you still want our emails?" in subject
    deadline = (job.created_at + timedelta(days=14)).date()
    assert f"{deadline.day}, {deadline.year}" in text  # "If you do not answer by December 20, 2026"
    headers = email.message_from_bytes(to_bob.data)
    assert headers["List-Unsubscribe"] is None  # a request about consent, not marketing
    [audit] = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "contacts.bulk_list_reconfirm")
    ).scalars()
    assert audit.details["list"] == asked["news"].public_id and audit.details["days"] == 14


def test_the_button_keeps_the_list_and_the_ledger_says_so(app, asked, smtp_server):
    ann, bob, *_ = asked["people"]
    news = asked["news"]
    base = app.config["MAILER_BASE_URL"]
    link = path_of(_keep_link(_text(smtp_server.to(bob.email)[0])[1], base), base)
    client = app.test_client()
    page = client.get(link)
    assert page.status_code == 200 and "News" in page.text and "Yes, keep me subscribed" in page.text
    assert _events(bob, "granted")[1:] == []  # looking changes nothing
    kept = client.post(link)
    assert kept.status_code == 200 and "You stay subscribed to:" in kept.text and "News" in kept.text
    db.session.expire_all()
    [_, again] = _events(bob, "granted")
    assert again.details == {
        "reason": "reconfirmed",
        "list": news.public_id,
        "bulk_job": asked["job"].public_id,
    }
    assert again.source == "public:reconfirm"
    assert "nothing left to confirm" in client.post(link).text  # a second press does nothing more
    assert len(_events(bob, "granted")) == 2
    # At the deadline Ann, who did not answer, leaves; Bob stays.
    assert reconfirmation.expire_due(utcnow() + timedelta(days=15)) == 1
    db.session.expire_all()
    assert (_status(ann, news.id), _status(bob, news.id)) == ("unsubscribed", "confirmed")
    [withdrawn] = _events(ann, "withdrawn")
    assert withdrawn.details["reason"] == "no_reconfirmation" and withdrawn.source == "system:reconfirmation"
    assert _events(bob, "withdrawn") == []


def test_nothing_leaves_before_the_deadline_and_asking_again_keeps_the_first_deadline(app, asked, worker):
    ann, *_ = asked["people"]
    news = asked["news"]
    assert reconfirmation.expire_due(utcnow() + timedelta(days=13)) == 0
    first = db.session.get(ListReconfirmation, (news.id, ann.id)).deadline_at
    again = bulk.start_job(
        "list_reconfirm", news.public_id, [ann], None, None, options=bulk.Options(days="60")
    )
    db.session.commit()
    worker.drain()
    db.session.expire_all()
    assert (again.changed, again.skipped) == (0, 1)
    assert db.session.get(ListReconfirmation, (news.id, ann.id)).deadline_at == first
    assert _status(ann, news.id) == "confirmed"


def test_erasure_forgets_the_request_and_a_bad_link_is_a_clear_404(app, asked):
    ann, *_ = asked["people"]
    erase_contact(ann, RequestContext("admin"), reason="asked")
    db.session.commit()
    assert (
        db.session.execute(select(ListReconfirmation).where(ListReconfirmation.contact_id == ann.id)).all()
        == []
    )
    assert reconfirmation.expire_due(utcnow() + timedelta(days=30)) == 1  # Bob, who did not answer
    broken = app.test_client().get("/stay/not-a-token")
    assert broken.status_code == 404 and "This link doesn't work" in broken.text


@pytest.mark.parametrize(
    ("days", "message"), [("", "between 7 and 90 days"), ("3", "between 7 and 90 days"), ("x", "between 7")]
)
def test_the_deadline_must_be_reasonable(app_ctx, days, message):
    news = create_list("News")
    [ann] = bare_contacts(1)
    with pytest.raises(bulk.BulkError, match=message):
        bulk.start_job("list_reconfirm", news.public_id, [ann], None, None, options=bulk.Options(days=days))
