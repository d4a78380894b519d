"""Deleting a list as a background job (issue 13): the list is deleted for everything else at once (no
sign-ups, no API or send naming it), its subscriptions end in batches that each commit with the job's
progress, and a worker that dies mid-batch loses nothing and repeats nothing: exactly one "withdrawn" ledger
event per person, then the tombstone's audit entry once."""

import pytest
from sqlalchemy import func, select

from mailer.audit.models import AuditEvent
from mailer.bulk import operations as bulk
from mailer.bulk.models import BulkJob
from mailer.campaigns import lifecycle
from mailer.campaigns.rendering import CampaignError
from mailer.consent.models import ConsentEvent
from mailer.consent.verify import verify_chain
from mailer.core.extensions import db
from mailer.subscriptions import lists as list_service
from mailer.subscriptions.models.lists import MailingList, Subscription
from tests.public.recipients import news_list, subscribed_contact
from tests.support.campaigns import deliveries, newsletter
from tests.support.html_forms import submit_form
from tests.support.signup import page

PEOPLE = 12


def _withdrawn(mailing_list: MailingList) -> list[int]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(ConsentEvent.contact_id).where(
                ConsentEvent.purpose_id == mailing_list.purpose.id, ConsentEvent.action == "withdrawn"
            )
        ).scalars()
    )


def _open(mailing_list: MailingList) -> int:
    db.session.expire_all()
    return db.session.execute(
        select(func.count())
        .select_from(Subscription)
        .where(Subscription.list_id == mailing_list.id, Subscription.status != "unsubscribed")
    ).scalar_one()


def _job() -> BulkJob:
    db.session.expire_all()
    return db.session.execute(select(BulkJob).where(BulkJob.action == "list_delete")).scalar_one()


def test_a_list_is_deleted_at_once_and_its_subscriptions_end_in_batches_exactly_once_after_a_crash(
    app, auth, api, demo_form, monkeypatch
):
    demo, other = demo_form.lists[0], news_list("Offers")
    people = [subscribed_contact(f"p{n}@example.com", [demo, other]) for n in range(PEOPLE)]
    monkeypatch.setattr(list_service, "DELETE_BATCH", 5)
    url = f"/admin/lists/{demo.public_id}/delete"
    started = submit_form(auth, url, auth.get(url).text, confirm_name=demo.name)
    job = _job()
    assert started.status_code == 302 and started.headers["Location"].endswith(
        f"/contacts/bulk/{job.public_id}"
    )
    assert (job.status, job.total, job.done) == ("queued", PEOPLE, 0)

    # At once, before any subscription ended: deleted for everything else.
    assert _open(demo) == PEOPLE
    assert api.get(f"/lists/{demo.public_id}").status_code == 404
    assert app.test_client().get("/f/demo").status_code == 410  # its only list is gone: sign-ups closed
    listing = page(auth.get("/admin/lists"))
    assert "Deleting… 0 of 12 subscriptions ended." in listing
    assert "Deleting… 0 of 12" in page(auth.get(f"/admin/lists/{demo.public_id}"))
    assert auth.get(url).status_code == 404  # no second deletion

    assert bulk.run_batch(job.id) is True  # the first batch of 5 commits with the job's progress
    assert (_job().done, len(_withdrawn(demo)), _open(demo)) == (5, 5, PEOPLE - 5)
    assert "Deleting… 5 of 12 subscriptions ended." in page(auth.get("/admin/lists"))

    # The worker dies in the middle of the next batch: its subscriptions were changed and its ledger
    # events appended inside the transaction when the failure came.
    real = list_service.append_events

    def dies(connection, drafts):
        real(connection, drafts)
        raise RuntimeError("worker killed")

    monkeypatch.setattr(list_service, "append_events", dies)
    with pytest.raises(RuntimeError):
        bulk.run_batch(job.id)
    db.session.rollback()
    assert (_job().done, _job().cursor > 0, len(_withdrawn(demo)), _open(demo)) == (5, True, 5, PEOPLE - 5)

    monkeypatch.setattr(list_service, "append_events", real)
    bulk.run_job(job.id)  # the retry continues after the last committed batch
    job = _job()
    assert (job.status, job.done, job.changed) == ("done", PEOPLE, PEOPLE)
    withdrawn = _withdrawn(demo)
    assert sorted(withdrawn) == sorted(p.id for p in people)  # exactly one per person
    assert _open(demo) == 0 and _open(other) == PEOPLE  # their other list is untouched
    assert verify_chain().ok
    [audited] = db.session.execute(select(AuditEvent).where(AuditEvent.action == "list.deleted")).scalars()
    assert audited.target_id == demo.public_id and audited.details["confirmed"] == PEOPLE
    assert audited.actor_id is not None
    bulk.run_job(job.id)  # a late duplicate of the message changes nothing
    assert len(_withdrawn(demo)) == PEOPLE
    assert "Deleting…" not in page(auth.get("/admin/lists"))
    assert "Deleted on" in page(auth.get(f"/admin/lists/{demo.public_id}"))


def test_the_api_answers_202_with_the_job_to_poll_and_the_worker_ends_the_rest(
    api, write_key, demo_form, worker, monkeypatch
):
    demo = demo_form.lists[0]
    for n in range(7):
        subscribed_contact(f"q{n}@example.com", [demo])
    monkeypatch.setattr(list_service, "DELETE_BATCH", 3)
    answer = api.post(f"/lists/{demo.public_id}/delete", json={"confirm_name": demo.name})
    assert answer.status_code == 202, answer.get_json()
    job = answer.get_json()
    assert (job["action"], job["total"]) == ("list_delete", 7)
    assert job["status"] in ("queued", "running", "done")
    assert api.post(f"/lists/{demo.public_id}/delete", json={"confirm_name": demo.name}).status_code == 404
    worker.drain()
    polled = api.get(f"/bulk-jobs/{job['id']}").get_json()
    assert (polled["status"], polled["processed"], polled["percent"]) == ("done", 7, 100)
    assert sorted(set(_withdrawn(demo))) == sorted(_withdrawn(demo)) and len(_withdrawn(demo)) == 7
    [audited] = db.session.execute(select(AuditEvent).where(AuditEvent.action == "list.deleted")).scalars()
    assert audited.details["via"] == "api" and audited.details["api_key"] == write_key[3:11]


def test_a_campaign_to_a_list_being_deleted_is_not_sent(app_ctx, staff_user):
    campaign, _people = newsletter(3)
    mailing_list = campaign.lists[0]
    # The job is not run: the list's subscriptions are still open.
    bulk.start_list_delete(mailing_list, mailing_list.name, staff_user, None)
    db.session.commit()
    assert _open(mailing_list) == 3
    with pytest.raises(CampaignError, match="The list “News” was deleted"):
        lifecycle.start_campaign(campaign)
    db.session.rollback()
    assert deliveries(campaign) == []
