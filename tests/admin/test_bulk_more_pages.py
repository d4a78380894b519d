"""The remaining bulk actions on the contacts page: add to or remove from a list (the review asks for the
consent basis), erase (owners and privacy officers, with a reason and ERASE <count> typed), every contact
matching the search rather than the ticked page, and the jobs page with state, who, when and the outcome."""

import pytest
from sqlalchemy import func, select

from mailer.bulk.models import BulkJob
from mailer.consent.ledger import RequestContext
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.core.extensions import db
from mailer.subscriptions.lists import create_list
from mailer.subscriptions.models.lists import Subscription
from mailer.subscriptions.operations import Basis, Door, subscribe
from tests.support.http import csrf_token, staff_client
from tests.support.people import bare_contacts

STATEMENT = "Signed the paper form at the Berlin shop on 3 May; kept in the office file."


def _jobs() -> int:
    return db.session.execute(select(func.count()).select_from(BulkJob)).scalar_one()


def _statuses(list_id: int) -> dict[int, str]:
    query = select(Subscription.contact_id, Subscription.status).where(Subscription.list_id == list_id)
    return {row.contact_id: row.status for row in db.session.execute(query)}


def test_add_ticked_contacts_to_a_list_asks_for_the_basis_then_runs(app_ctx, auth, worker):
    news = create_list("Newsletter")
    db.session.commit()
    ann, bob, _ = bare_contacts(3)
    page = auth.get("/admin/contacts")
    assert f'<option value="{news.public_id}">Newsletter</option>' in page.text
    data = {
        "csrf_token": csrf_token(page.text),
        "action": "list_add",
        "list": news.public_id,
        "tag": "",
        "contact": [ann.public_id, bob.public_id],
    }
    review = auth.post("/admin/contacts/bulk", data=data)
    assert review.status_code == 200
    assert (
        "Add to the list “<strong>Newsletter</strong>”" in review.text
        and "<strong>2 contacts</strong>" in review.text
    )
    assert "How did these people agree to receive this list?" in review.text
    assert _jobs() == 0
    missing = auth.post(
        "/admin/contacts/bulk", data=data | {"start": "1", "basis": "has_consent", "statement": "x"}
    )
    assert missing.status_code == 400
    assert "Say where and how the person consented" in missing.text
    assert 'name="basis" id="basis-has_consent" value="has_consent" checked' in missing.text  # kept
    assert _jobs() == 0
    started = auth.post(
        "/admin/contacts/bulk",
        data=data | {"start": "1", "basis": "has_consent", "statement": STATEMENT},
        follow_redirects=True,
    )
    assert "Started: add to the list “Newsletter” on 2 contacts." in started.text
    worker.drain()
    db.session.expire_all()
    assert _statuses(news.id) == {ann.id: "confirmed", bob.id: "confirmed"}
    job = db.session.execute(select(BulkJob)).scalar_one()
    shown = auth.get(f"/admin/contacts/bulk/{job.public_id}")
    assert '<h1 class="h3">Add to the list “Newsletter”</h1>' in shown.text
    assert 'Status: <strong data-field="status_label" data-status="done">done</strong>' in shown.text
    assert "changed 2" in shown.text


def test_remove_everyone_matching_a_search_from_a_list(app_ctx, auth, worker):
    news = create_list("Newsletter")
    db.session.commit()
    people = bare_contacts(60)  # more than one page of 50
    token = csrf_token(auth.get("/admin/contacts").text)
    auth.post(
        "/admin/contacts/bulk",
        data={
            "csrf_token": token,
            "action": "list_add",
            "list": news.public_id,
            "scope": "matching",
            "start": "1",
            "basis": "has_consent",
            "statement": STATEMENT,
        },
    )
    worker.drain()
    db.session.expire_all()
    assert len(_statuses(news.id)) == 60
    page = auth.get("/admin/contacts?q=p00")  # p000…p009
    assert "Everyone matching, on all pages" in page.text
    data = {
        "csrf_token": csrf_token(page.text),
        "action": "list_remove",
        "list": news.public_id,
        "scope": "matching",
        "match_q": "p00",
        "match_list": "",
        "match_segment": "",
        "match_status": "",
    }
    review = auth.post("/admin/contacts/bulk", data=data)
    assert "<strong>10 contacts</strong>: every contact matching a text search, as they match" in review.text
    assert 'name="match_q" value="p00"' in review.text
    auth.post("/admin/contacts/bulk", data=data | {"start": "1"})
    worker.drain()
    db.session.expire_all()
    statuses = _statuses(news.id)
    assert [statuses[p.id] for p in people[:10]] == ["unsubscribed"] * 10
    assert {statuses[p.id] for p in people[10:]} == {"confirmed"}
    jobs = auth.get("/admin/jobs")
    assert "Remove from the list “Newsletter”" in jobs.text
    assert "every contact matching a text search" in jobs.text
    assert "changed 10 of 10" in jobs.text and "changed 60 of 60" in jobs.text
    assert "owner@example.com" in jobs.text


def test_a_privacy_officer_erases_with_a_reason_and_the_typed_count(app, app_ctx, worker):
    people = bare_contacts(3)
    officer = staff_client(app, "privacy")
    page = officer.get("/admin/contacts")
    assert f'aria-label="Select {people[0].email}"' in page.text
    assert "Erase…" in page.text and 'id="bulk-action"' not in page.text  # no editor actions for privacy
    data = {
        "csrf_token": csrf_token(page.text),
        "contact": [people[0].public_id, people[1].public_id],
    }
    review = officer.post("/admin/contacts/bulk/erase", data=data)
    assert review.status_code == 200
    assert "Type <strong>ERASE 2</strong> to confirm" in review.text and "cannot be undone" in review.text
    wrong = officer.post(
        "/admin/contacts/bulk/erase",
        data=data | {"start": "1", "reason": "Old shop data", "confirm": "ERASE"},
    )
    assert wrong.status_code == 400 and "Type ERASE 2 to confirm" in wrong.text
    assert 'value="Old shop data"' in wrong.text
    assert _jobs() == 0
    started = officer.post(
        "/admin/contacts/bulk/erase",
        data=data | {"start": "1", "reason": "Old shop data", "confirm": "ERASE 2"},
        follow_redirects=True,
    )
    assert "Started: erase contacts on 2 contacts." in started.text
    worker.drain()
    db.session.expire_all()
    assert [db.session.get(Contact, p.id).status for p in people] == [
        ContactStatus.ERASED,
        ContactStatus.ERASED,
        ContactStatus.ACTIVE,
    ]
    job = db.session.execute(select(BulkJob)).scalar_one()
    shown = officer.get(f"/admin/contacts/bulk/{job.public_id}")
    assert "reason: Old shop data" in shown.text and "erased 2" in shown.text


@pytest.mark.parametrize("role", ["marketer", "admin", "viewer"])
def test_only_owners_and_privacy_officers_may_erase_in_bulk(app, app_ctx, role):
    (ann,) = bare_contacts(1)
    client = staff_client(app, role)
    page = client.get("/admin/contacts")
    assert "Erase…" not in page.text
    data = {
        "csrf_token": csrf_token(page.text),
        "contact": ann.public_id,
        "reason": "x",
        "confirm": "ERASE 1",
    }
    assert client.post("/admin/contacts/bulk/erase", data=data | {"start": "1"}).status_code == 403
    # Nor through the editors' address, with the action named by hand.
    sneaky = client.post("/admin/contacts/bulk", data=data | {"action": "erase", "start": "1"})
    assert sneaky.status_code in (400, 403)
    assert _jobs() == 0 and db.session.get(Contact, ann.id).status == ContactStatus.ACTIVE


def test_bad_list_input_is_answered_with_a_message(app_ctx, auth):
    (ann,) = bare_contacts(1)
    archived = create_list("Old news")
    archived.archived_at = archived.created_at
    db.session.commit()
    token = csrf_token(auth.get("/admin/contacts").text)
    base = {"csrf_token": token, "contact": ann.public_id}
    cases = [
        ({"action": "list_add", "list": ""}, 400, "Choose a list."),
        ({"action": "list_remove", "list": "<b>nope</b>"}, 400, "Choose a list."),
        ({"action": "list_add", "list": archived.public_id}, 400, "is archived"),
        (
            {"action": "tag", "tag": "x", "scope": "matching", "match_segment": "nope"},
            404,
            "segment does not",
        ),
        ({"action": "tag", "tag": "x", "scope": "matching", "match_q": "nobody-like-this"}, 400, "Tick the"),
        (
            {"action": "tag", "tag": "x", "scope": "matching", "match_list": "99999999999999"},
            200,
            "every contact",
        ),
    ]
    for data, code, message in cases:
        answer = auth.post("/admin/contacts/bulk", data=base | data)
        assert answer.status_code == code, data
        assert message in answer.text
        assert "<b>nope</b>" not in answer.text
    assert _jobs() == 0
    assert auth.post("/admin/contacts/bulk/erase", data={"contact": ann.public_id}).status_code == 400  # CSRF
    assert auth.get("/admin/contacts/bulk/erase").status_code == 302


def test_the_jobs_page_says_when_there_are_none(app, app_ctx):
    viewer = staff_client(app, "viewer")
    page = viewer.get("/admin/jobs")
    assert page.status_code == 200 and "No bulk jobs yet." in page.text


def test_ask_a_list_to_reconfirm_states_the_consequence_and_asks_for_the_deadline(
    app_ctx, auth, worker, smtp_server
):
    news = create_list("Newsletter")
    ann, bob = bare_contacts(2)
    for person in (ann, bob):
        subscribe(
            person,
            [news.purpose],
            Door(RequestContext("admin"), "admin", Basis.PRIOR_CONSENT, by_person=False),
        )
    db.session.commit()
    page = auth.get("/admin/contacts")
    assert '<option value="list_reconfirm">Ask to re-confirm the list</option>' in page.text
    data = {
        "csrf_token": csrf_token(page.text),
        "action": "list_reconfirm",
        "list": news.public_id,
        "tag": "",
        "contact": [ann.public_id, bob.public_id],
    }
    review = auth.post("/admin/contacts/bulk", data=data)
    assert (
        review.status_code == 200
        and "Whoever has not answered by the deadline is removed from the list" in review.text
    )
    assert 'name="days" type="number"' in review.text and 'value="30"' in review.text
    refused = auth.post("/admin/contacts/bulk", data=data | {"start": "1", "days": "400"})
    assert refused.status_code == 400 and "Give people between 7 and 90 days to answer." in refused.text
    assert _jobs() == 0
    started = auth.post(
        "/admin/contacts/bulk", data=data | {"start": "1", "days": "21"}, follow_redirects=True
    )
    assert "Started: ask to re-confirm the list “Newsletter” on 2 contacts." in started.text
    worker.drain()
    assert len(smtp_server.to(ann.email)) == 1 and len(smtp_server.to(bob.email)) == 1
    job = db.session.execute(select(BulkJob)).scalar_one()
    assert job.options == {"days": 21}
