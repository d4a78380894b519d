"""Bulk jobs in the domain: tag and untag over ticked contacts or a segment frozen at the start, restricted
and erased contacts left alone, one audit event per job with its counts, and a job interrupted between batches
continued without skipping or repeating anyone."""

import pytest
from sqlalchemy import func, select

from mailer.audit.models import AuditEvent
from mailer.bulk import operations as bulk
from mailer.bulk.models import BulkJob
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.models.tags import ContactTag
from mailer.contacts.tags import add_tag, tags_of
from mailer.core.extensions import db
from mailer.segments.operations import save_segment
from mailer.staff.accounts import create_staff
from tests.support.people import bare_contacts

VIP = {"match": "all", "rules": [{"field": "tag", "op": "has", "value": "vip"}]}


def _tagged(name: str) -> set[int]:
    return {
        cid
        for cid, tags in tags_of(list(db.session.execute(select(Contact.id)).scalars())).items()
        if name in [t.name for t in tags]
    }


def test_tag_ticked_contacts_leaves_restricted_ones_and_is_audited_once(app_ctx):
    marketer = create_staff("m@example.com", "correct horse battery", "marketer")
    people = bare_contacts(4)
    people[3].status = ContactStatus.RESTRICTED
    add_tag(people[0], "Spring", actor=None)  # already there: not counted as a change
    db.session.commit()
    job = bulk.start_job("tag", "  spring ", [people[0], people[1], people[3]], None, marketer)
    db.session.commit()
    assert (job.total, job.status, job.argument) == (3, "queued", "Spring")
    bulk.run_job(job.id)
    db.session.refresh(job)
    assert (job.status, job.done, job.changed, job.skipped) == ("done", 3, 1, 1)
    assert _tagged("Spring") == {people[0].id, people[1].id}
    events = (
        db.session.execute(select(AuditEvent).where(AuditEvent.action == "contacts.bulk_tag")).scalars().all()
    )
    assert len(events) == 1
    assert events[0].details == {
        "tag": "Spring",
        "selection": "3 ticked contacts",
        "processed": 3,
        "changed": 1,
        "skipped": 1,
    }
    assert events[0].actor_id == marketer.id
    assert bulk.progress(job)["percent"] == 100


def test_untag_everyone_in_a_segment(app_ctx):
    people = bare_contacts(5)
    for person in people[:3]:
        add_tag(person, "vip", actor=None)
    segment = save_segment("VIP people", VIP, actor=None)
    db.session.commit()
    job = bulk.start_job("untag", "VIP", [], segment, None)
    db.session.commit()
    assert job.total == 3 and job.selection["segment"] == "VIP people"
    bulk.run_job(job.id)
    db.session.refresh(job)
    assert (job.done, job.changed) == (3, 3)
    assert _tagged("vip") == set()


def test_an_interrupted_job_continues_without_skipping_or_repeating(app_ctx):
    people = bare_contacts(23)
    job = bulk.start_job("tag", "batch", people, None, None)
    db.session.commit()
    assert bulk.run_batch(job.id, size=10) is True
    assert bulk.run_batch(job.id, size=10) is True
    # The worker dies here; the two committed batches stay, the next run starts after them.
    db.session.expire_all()
    db.session.refresh(job)
    assert (job.status, job.done, job.cursor) == ("running", 20, people[19].id)
    assert _tagged("batch") == {p.id for p in people[:20]}
    # Someone removes a tag from an already handled contact meanwhile: it is not handled again.
    db.session.execute(ContactTag.__table__.delete().where(ContactTag.contact_id == people[0].id))
    db.session.commit()
    bulk.run_job(job.id)
    db.session.refresh(job)
    assert (job.status, job.done, job.changed) == ("done", 23, 23)
    assert _tagged("batch") == {p.id for p in people[1:]}
    bulk.run_job(job.id)  # a duplicate message does nothing
    assert (
        db.session.execute(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "contacts.bulk_tag")
        ).scalar_one()
        == 1
    )


@pytest.mark.parametrize(
    ("action", "tag", "message"),
    [
        ("delete", "vip", "Choose what to do with the selected contacts."),
        ("erase", "", "Say why these contacts are erased"),
        ("list_add", "no-such-list", "Choose a list."),
        ("tag", "   ", "Type a tag."),
        ("tag", "x" * 61, "A tag is plain text of 60 characters at most."),
        ("tag", "bad\x07tag", "A tag is plain text of 60 characters at most."),
        ("untag", "never-made", "There is no tag “never-made”."),
    ],
)
def test_bad_actions_are_refused_and_nothing_is_queued(app_ctx, action, tag, message):
    people = bare_contacts(1)
    with pytest.raises(bulk.BulkError, match=message):
        bulk.start_job(action, tag, people, None, None)
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(BulkJob)).scalar_one() == 0


def test_nothing_selected_is_refused(app_ctx):
    with pytest.raises(bulk.BulkError, match="Tick the contacts"):
        bulk.start_job("tag", "vip", [], None, None)


def test_a_stretch_of_ticked_contacts_that_are_gone_does_not_end_the_job_early(app_ctx):
    people = bare_contacts(25)
    job = bulk.start_job("tag", "later", people, None, None)
    db.session.commit()
    gone = people[:12]  # the whole first batch (and two more) disappear before the worker starts
    db.session.execute(Contact.__table__.delete().where(Contact.id.in_([p.id for p in gone])))
    db.session.commit()
    while bulk.run_batch(job.id, size=10):  # batches of 10: the first finds nobody at all
        pass
    db.session.expire_all()
    job = db.session.get(BulkJob, job.id)
    assert (job.status, job.done, job.changed) == ("done", 13, 13)
    assert _tagged("later") == {p.id for p in people[12:]}
