"""Bulk actions on the contacts page: tick contacts (or take a whole segment), review, start, and follow the
job's progress to done; editors only, CSRF checked, bad input answered with a message."""

from sqlalchemy import func, select

from mailer.audit.models import AuditEvent
from mailer.bulk import operations as bulk
from mailer.bulk.models import BulkJob
from mailer.contacts.models.contact import Contact
from mailer.contacts.tags import add_tag, tags_of
from mailer.core.extensions import db
from mailer.segments.operations import save_segment
from tests.support.http import csrf_token, staff_client
from tests.support.people import bare_contacts

VIP = {"match": "all", "rules": [{"field": "tag", "op": "has", "value": "vip"}]}


def _tag_names(contact: Contact) -> list[str]:
    return [t.name for t in tags_of([contact.id]).get(contact.id, [])]


def _jobs() -> int:
    return db.session.execute(select(func.count()).select_from(BulkJob)).scalar_one()


def test_tick_two_contacts_review_start_and_see_it_done(app_ctx, auth, worker):
    ann, bob, cid = bare_contacts(3)
    page = auth.get("/admin/contacts")
    assert f'aria-label="Select {ann.email}"' in page.text
    token = csrf_token(page.text)
    picked = {
        "csrf_token": token,
        "action": "tag",
        "tag": "Spring fair",
        "contact": [ann.public_id, bob.public_id],
    }
    review = auth.post("/admin/contacts/bulk", data=picked)
    assert review.status_code == 200
    assert "Add the tag “<strong>Spring fair</strong>” to <strong>2 contacts</strong>" in review.text
    assert _jobs() == 0  # reviewing changes nothing
    started = auth.post("/admin/contacts/bulk", data=picked | {"start": "1"})
    assert started.status_code == 302
    job = db.session.execute(select(BulkJob)).scalar_one()
    assert started.headers["Location"].endswith(f"/admin/contacts/bulk/{job.public_id}")
    worker.drain()
    db.session.expire_all()  # the requests share this test's app context and session
    shown = auth.get(started.headers["Location"])
    assert 'Status: <strong data-field="status_label" data-status="done">done</strong>' in shown.text
    assert '<span data-field="processed">2</span> of 2 contacts' in shown.text
    assert "changed 2" in shown.text
    assert auth.get(f"/admin/contacts/bulk/{job.public_id}/progress").json == {
        "status": "done",
        "status_label": "done",  # the status's name in the viewer's language
        "total": 2,
        "processed": 2,
        "changed": 2,
        "skipped": 0,
        "percent": 100,
    }
    db.session.expire_all()
    assert _tag_names(ann) == ["Spring fair"] and _tag_names(bob) == ["Spring fair"] and _tag_names(cid) == []
    audit = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "contacts.bulk_tag")
    ).scalar_one()
    assert audit.details["changed"] == 2 and audit.target_id == job.public_id


def test_everyone_in_a_segment(app_ctx, auth, worker):
    people = bare_contacts(4)
    for person in people[:3]:
        add_tag(person, "vip", actor=None)
    segment = save_segment("VIP people", VIP, actor=None)
    db.session.commit()
    page = auth.get(f"/admin/contacts?segment={segment.public_id}")
    assert "Everyone in this segment" in page.text
    data = {
        "csrf_token": csrf_token(page.text),
        "action": "tag",
        "tag": "reached",
        "scope": "segment",
        "segment": segment.public_id,
    }
    review = auth.post("/admin/contacts/bulk", data=data)
    assert "<strong>3 contacts</strong>: everyone in the segment “VIP people” now" in review.text
    started = auth.post("/admin/contacts/bulk", data=data | {"start": "1"}, follow_redirects=True)
    assert "Started: add the tag “reached” on 3 contacts." in started.text
    worker.drain()
    db.session.expire_all()
    assert [_tag_names(p).count("reached") for p in people] == [1, 1, 1, 0]


def test_viewers_see_no_checkboxes_and_may_not_start(app, app_ctx):
    (ann,) = bare_contacts(1)
    viewer = staff_client(app, "viewer")
    page = viewer.get("/admin/contacts")
    assert ann.email in page.text and "Select " + ann.email not in page.text
    refused = viewer.post(
        "/admin/contacts/bulk",
        data={
            "csrf_token": csrf_token(page.text),
            "action": "tag",
            "tag": "x",
            "contact": ann.public_id,
            "start": "1",
        },
    )
    assert refused.status_code == 403
    assert _jobs() == 0


def test_without_the_csrf_token_nothing_starts(app_ctx, auth):
    (ann,) = bare_contacts(1)
    answer = auth.post(
        "/admin/contacts/bulk", data={"action": "tag", "tag": "x", "contact": ann.public_id, "start": "1"}
    )
    assert answer.status_code == 400
    assert _jobs() == 0


def test_hostile_input_is_answered_with_a_message(app_ctx, auth):
    (ann,) = bare_contacts(1)
    token = csrf_token(auth.get("/admin/contacts").text)
    base = {"csrf_token": token, "start": "1"}
    cases = [
        (
            {"action": "erase", "tag": "x", "contact": ann.public_id},
            400,
            "Choose what to do with the selected contacts.",
        ),
        ({"action": "tag", "tag": "<b>x</b>" * 8, "contact": ann.public_id}, 400, "A tag is plain text"),
        (
            {"action": "tag", "tag": "<b>x</b>\x07", "contact": ann.public_id},
            400,
            "Please go back and type it again.",
        ),
        ({"action": "tag", "tag": "x", "contact": ["nope", "' OR 1=1"]}, 400, "Tick the contacts to act on"),
        ({"action": "tag", "tag": "x"}, 400, "Tick the contacts to act on"),
        ({"action": "tag", "tag": "x", "contact": ["a"] * 1001}, 400, "Tick at most 1000 contacts"),
        (
            {"action": "tag", "tag": "x", "scope": "segment", "segment": "nope"},
            404,
            "That segment does not exist",
        ),
        ({"action": "untag", "tag": "never", "contact": ann.public_id}, 400, "There is no tag “never”."),
    ]
    for data, code, message in cases:
        answer = auth.post("/admin/contacts/bulk", data=base | data)
        assert answer.status_code == code, data
        assert message in answer.text
        assert "<b>x</b>" not in answer.text
    assert _jobs() == 0
    assert auth.get("/admin/contacts/bulk/nope").status_code == 404
    assert auth.get("/admin/contacts/bulk/nope/progress").status_code == 404


def test_without_javascript_a_running_job_offers_a_refresh(app_ctx, auth):
    people = bare_contacts(2)
    job = bulk.start_job("tag", "later", people, None, None)
    db.session.commit()  # no worker here: the job waits in the queue
    page = auth.get(f"/admin/contacts/bulk/{job.public_id}")
    assert 'Status: <strong data-field="status_label" data-status="queued">queued</strong>' in page.text
    assert f'<a href="/admin/contacts/bulk/{job.public_id}">Refresh</a>' in page.text
    assert '<span data-field="processed">0</span> of 2 contacts' in page.text
    again = auth.get("/admin/contacts/bulk")  # the review's address opened again
    assert again.status_code == 302 and again.headers["Location"].endswith("/admin/contacts")
