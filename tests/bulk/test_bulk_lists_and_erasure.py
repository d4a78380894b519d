"""Bulk list actions, erasure and "all matching" in the domain: adding to a list on a stated consent basis (or
by double opt-in, whose email arrives and whose link confirms), removing with the ledger's "withdrawn" events
of an unsubscribe, erasing each contact exactly as one erasure is recorded, and a search's matches frozen when
the job starts."""

import pytest
from sqlalchemy import func, select

from mailer.audit.models import AuditEvent
from mailer.bulk import operations as bulk
from mailer.bulk.models import BulkJob, BulkJobMember
from mailer.consent.ledger import RequestContext
from mailer.consent.models import ConsentEvent
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.models.suppression import Suppression
from mailer.contacts.operations import email_hash, matching_contacts
from mailer.contacts.suppression import is_suppressed
from mailer.contacts.tags import tags_of
from mailer.core.extensions import db
from mailer.privacy.models.register import ErasureRecord
from mailer.privacy.models.requests import PrivacyRequest
from mailer.staff.accounts import create_staff
from mailer.subscriptions.lists import create_list
from mailer.subscriptions.models.lists import Subscription
from mailer.subscriptions.operations import Basis, Door, subscribe
from mailer.subscriptions.withdrawal import withdraw_list
from tests.support.http import confirm_link
from tests.support.people import bare_contacts
from tests.support.signup import path_of

STATEMENT = "Signed the paper form at the Berlin shop on 3 May; kept in the office file."
PRIOR = bulk.Options(basis=Basis.PRIOR_CONSENT.value, statement=STATEMENT)


def _events(contact: Contact, action: str) -> list[ConsentEvent]:
    query = select(ConsentEvent).where(ConsentEvent.contact_id == contact.id, ConsentEvent.action == action)
    return list(db.session.execute(query.order_by(ConsentEvent.id)).scalars())


def _status(contact: Contact, list_id: int) -> str | None:
    query = select(Subscription.status).where(
        Subscription.contact_id == contact.id, Subscription.list_id == list_id
    )
    return db.session.execute(query).scalar_one_or_none()


def _audits(action: str) -> list[AuditEvent]:
    return list(db.session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars())


def _run(job: BulkJob) -> BulkJob:
    bulk.run_job(job.id)
    db.session.expire_all()
    return db.session.get(BulkJob, job.id)


def test_add_to_a_list_on_a_stated_basis_grants_at_once_and_leaves_people_who_left(app_ctx):
    marketer = create_staff("m@example.com", "correct horse battery", "marketer")
    news = create_list("News")
    people = bare_contacts(4)
    staff_door = Door(RequestContext("admin"), "admin", Basis.PRIOR_CONSENT, by_person=False)
    subscribe(people[2], [news.purpose], staff_door)  # then left the list by themself: only they come back
    withdraw_list(people[2], news, RequestContext("preference-centre"), {})
    people[3].status = ContactStatus.RESTRICTED
    db.session.commit()
    job = bulk.start_job("list_add", news.public_id, people, None, marketer, options=PRIOR)
    db.session.commit()
    assert (job.argument, job.options) == (news.public_id, {"basis": "has_consent", "statement": STATEMENT})
    job = _run(job)
    assert (job.status, job.done, job.changed, job.skipped) == ("done", 4, 2, 2)
    assert [_status(p, news.id) for p in people] == ["confirmed", "confirmed", "unsubscribed", None]
    [granted] = _events(people[0], "granted")
    assert granted.source == f"admin:staff-{marketer.id}"
    assert granted.details == {"added_by": "staff", "bulk_job": job.public_id, "statement": STATEMENT}
    assert len(_events(people[2], "granted")) == 1  # only the first, before they left
    [audit] = _audits("contacts.bulk_list_add")
    assert audit.actor_id == marketer.id and audit.target_id == job.public_id
    assert audit.details == {
        "list": news.public_id,
        "basis": "has_consent",
        "selection": "4 ticked contacts",
        "processed": 4,
        "changed": 2,
        "skipped": 2,
    }


def test_add_by_double_opt_in_sends_each_the_confirmation_and_the_link_confirms(
    app, app_ctx, worker, smtp_server
):
    news = create_list("News")
    ann, bob = bare_contacts(2)
    job = bulk.start_job(
        "list_add", news.public_id, [ann, bob], None, None, options=bulk.Options(basis="double_opt_in")
    )
    db.session.commit()
    worker.drain()
    db.session.expire_all()
    assert db.session.get(BulkJob, job.id).changed == 2
    assert [_status(p, news.id) for p in (ann, bob)] == ["pending", "pending"]
    assert [len(_events(p, "requested")) for p in (ann, bob)] == [1, 1]
    [received] = smtp_server.to(ann.email)
    assert len(smtp_server.to(bob.email)) == 1
    base = app.config["MAILER_BASE_URL"]
    client = app.test_client()
    confirmed = client.post(path_of(confirm_link(received.data, base), base))
    assert confirmed.status_code == 200
    db.session.expire_all()
    assert [_status(p, news.id) for p in (ann, bob)] == ["confirmed", "pending"]
    assert len(_events(ann, "confirmed")) == 1 and _events(bob, "confirmed") == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (bulk.Options(), "Choose how the person agreed to receive mail."),
        (bulk.Options(basis="has_consent", statement="too short"), "Say where and how the person consented"),
        (bulk.Options(basis="granted"), "Choose how the person agreed to receive mail."),
    ],
)
def test_adding_without_a_consent_basis_is_refused(app_ctx, options, message):
    news = create_list("News")
    people = bare_contacts(1)
    with pytest.raises(bulk.BulkError, match=message):
        bulk.start_job("list_add", news.public_id, people, None, None, options=options)
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(BulkJob)).scalar_one() == 0


def test_an_archived_list_takes_nobody_new(app_ctx):
    news = create_list("News")
    news.archived_at = news.created_at
    people = bare_contacts(1)
    with pytest.raises(bulk.BulkError, match="is archived"):
        bulk.start_job("list_add", news.public_id, people, None, None, options=PRIOR)


def test_remove_from_a_list_withdraws_as_an_unsubscribe_does(app_ctx):
    news, other = create_list("News"), create_list("Other")
    people = bare_contacts(3)
    door = Door(RequestContext("admin"), "admin", Basis.PRIOR_CONSENT, by_person=False)
    for person in people[:2]:
        subscribe(person, [news.purpose, other.purpose], door)
    db.session.commit()
    job = _run(bulk.start_job("list_remove", news.public_id, people, None, None))
    assert (job.done, job.changed, job.skipped) == (3, 2, 0)
    assert [_status(p, news.id) for p in people] == ["unsubscribed", "unsubscribed", None]
    assert [_status(p, other.id) for p in people] == ["confirmed", "confirmed", None]
    [withdrawn] = _events(people[0], "withdrawn")
    assert withdrawn.purpose_id == news.purpose.id and withdrawn.source == "admin:bulk"
    assert withdrawn.details == {
        "list": news.public_id,
        "reason": "removed_by_staff",
        "bulk_job": job.public_id,
    }
    assert _events(people[2], "withdrawn") == []
    assert not is_suppressed(people[0].email_hash)  # one list left, not everything
    again = _run(bulk.start_job("list_remove", news.public_id, people, None, None))
    assert again.changed == 0 and len(_events(people[0], "withdrawn")) == 1


def test_erase_records_each_erasure_as_a_single_one_does(app_ctx):
    officer = create_staff("dpo@example.com", "correct horse battery", "privacy")
    people = bare_contacts(4)
    addresses = [p.email for p in people]
    people[1].status = ContactStatus.RESTRICTED  # restricted people can still be erased
    db.session.commit()
    options = bulk.Options(reason="Shop closed; customer data goes", confirmation="erase 3")
    job = bulk.start_job("erase", "", people[:3], None, officer, options=options)
    db.session.commit()
    assert job.options == {"reason": "Shop closed; customer data goes"}
    job = _run(job)
    assert (job.status, job.done, job.changed, job.skipped) == ("done", 3, 3, 0)
    for person, address in zip(people[:3], addresses, strict=False):
        db.session.refresh(person)
        assert person.status == ContactStatus.ERASED and person.email is None
        assert is_suppressed(email_hash(address))
        [request] = db.session.execute(
            select(PrivacyRequest).where(PrivacyRequest.contact_id == person.id)
        ).scalars()
        assert (request.type, request.status, request.channel) == ("erasure", "completed", "admin")
        [erased] = _events(person, "erased")
        assert erased.source == f"admin:staff-{officer.id}"
        assert erased.details == {"request": request.public_id, "reason": "Shop closed; customer data goes"}
    registered = db.session.execute(select(ErasureRecord.contact_public_id)).scalars().all()
    assert sorted(registered) == sorted(p.public_id for p in people[:3])
    singles = _audits("contact.erase")
    assert sorted(a.target_id for a in singles) == sorted(p.public_id for p in people[:3])
    assert {a.actor_id for a in singles} == {officer.id}
    [summary] = _audits("contacts.bulk_erase")
    assert summary.details["reason"] == "Shop closed; customer data goes" and summary.details["changed"] == 3
    db.session.refresh(people[3])
    assert people[3].status == ContactStatus.ACTIVE
    assert db.session.execute(select(func.count()).select_from(Suppression)).scalar_one() == 3
    # Erasing the same people again leaves them alone (already erased).
    again = _run(bulk.start_job("erase", "", people[:3], None, officer, options=options))
    assert (again.changed, again.skipped) == (0, 3)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (bulk.Options(reason="", confirmation="ERASE 2"), "Say why these contacts are erased"),
        (bulk.Options(reason="x" * 201, confirmation="ERASE 2"), "Say why these contacts are erased"),
        (bulk.Options(reason="bad\x00reason", confirmation="ERASE 2"), "Say why these contacts are erased"),
        (bulk.Options(reason="Old data", confirmation=""), "Type ERASE 2 to confirm"),
        (bulk.Options(reason="Old data", confirmation="ERASE 3"), "Type ERASE 2 to confirm"),
    ],
)
def test_erase_needs_a_reason_and_the_typed_confirmation(app_ctx, options, message):
    people = bare_contacts(2)
    with pytest.raises(bulk.BulkError, match=message):
        bulk.start_job("erase", "", people, None, None, options=options)
    db.session.rollback()
    assert all(db.session.get(Contact, p.id).status == ContactStatus.ACTIVE for p in people)
    assert db.session.execute(select(func.count()).select_from(BulkJob)).scalar_one() == 0


def test_all_matching_is_frozen_when_the_job_starts(app_ctx):
    people = bare_contacts(30)  # p000…p029@example.com
    query = matching_contacts("p01")  # p010…p019
    matching = bulk.Matching(query, "every contact matching a text search")
    job = bulk.start_job("tag", "found", [], None, None, matching=matching)
    db.session.commit()
    assert job.total == 10 and job.selection == {"members": "every contact matching a text search"}
    assert bulk.described(job) == "every contact matching a text search"
    # After the start: a newcomer matches, and a member stops matching; neither changes the job.
    newcomer = Contact(email="p01new@example.com", email_hash=email_hash("p01new@example.com"), attributes={})
    db.session.add(newcomer)
    people[10].email = "renamed@example.com"
    db.session.commit()
    job = _run(job)
    assert (job.done, job.changed) == (10, 10)
    names = tags_of([p.id for p in people] + [newcomer.id])
    assert {cid for cid, tags in names.items() if tags} == {p.id for p in people[10:20]}
    members = db.session.execute(select(func.count()).select_from(BulkJobMember)).scalar_one()
    assert members == 10


def test_all_matching_with_nobody_left_is_refused(app_ctx):
    bare_contacts(2)
    matching = bulk.Matching(matching_contacts("nobody-like-this"), "every contact matching a text search")
    with pytest.raises(bulk.BulkError, match="Tick the contacts"):
        bulk.start_job("tag", "x", [], None, None, matching=matching)
