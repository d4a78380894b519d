"""Idempotency-Key on every API request that makes or does something (issue 15): a retry with the same key
makes one object and answers the first answer again (`Idempotent-Replayed: true`), also when the retries run
at once (PostgreSQL); another request with a used key is refused; keys belong to their API key, expire after
24 hours (the retention run removes them) and a failed first try leaves the key free."""

from datetime import timedelta
from io import BytesIO

import pytest
from sqlalchemy import func, select, update

from mailer.api.idempotency import request_fingerprint
from mailer.campaigns.models import Campaign, Layout
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.fields import ContactField
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.journeys.models import Journey
from mailer.media.models import MediaItem
from mailer.privacy.erasure import erase_contact
from mailer.privacy.retention import run_retention
from mailer.segments.models import Segment
from mailer.staff import idempotency
from mailer.staff.api_keys import create_key
from mailer.staff.models.api_keys import ApiKey
from mailer.staff.models.idempotency import IdempotentRequest
from mailer.subscriptions.lists import create_list
from mailer.subscriptions.models.lists import MailingList
from tests.api.helpers import ApiClient, at_once
from tests.support.campaigns import BODY, CTX, LAYOUT, make_layout
from tests.support.media import photo

KEY = {"Idempotency-Key": "order-7f3a"}
LIST = {"name": "Recipes", "description": "A recipe each Friday."}


def _count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def _twice(api, path, body, key="k-1"):
    headers = {"Idempotency-Key": key}
    return api.post(path, json=body, headers=headers), api.post(path, json=dict(body), headers=headers)


def _setting():
    news = create_list("News")
    layout = make_layout()
    db.session.commit()
    return news.public_id, layout.public_id


CREATES = {
    "list": ("/lists", lambda news, layout: LIST, MailingList),
    "field": (
        "/fields",
        lambda news, layout: {"key": "company", "label": "Company", "category": "ordinary"},
        ContactField,
    ),
    "contact": (
        "/contacts",
        lambda news, layout: {
            "email": "ann@example.com",
            "lists": [news],
            "basis": "has_consent",
            "statement": "Ticked the newsletter box on the paper form at the fair.",
        },
        Contact,
    ),
    "segment": (
        "/segments",
        lambda news, layout: {
            "name": "Readers",
            "conditions": {"match": "all", "rules": [{"field": "list", "op": "confirmed", "value": news}]},
        },
        Segment,
    ),
    "layout": ("/layouts", lambda news, layout: {"name": "Greengrocers", "html": LAYOUT}, Layout),
    "campaign": (
        "/campaigns",
        lambda news, layout: {
            "name": "Spring",
            "subject": "Spring",
            "body": BODY,
            "layout": layout,
            "lists": [news],
        },
        Campaign,
    ),
    "journey": (
        "/journeys",
        lambda news, layout: {"name": "Welcome", "trigger": "api", "list_id": news, "layout_id": layout},
        Journey,
    ),
}


@pytest.mark.parametrize("kind", sorted(CREATES))
def test_a_repeated_create_makes_one_and_replays_the_first_answer(api, app_ctx, kind):
    news, layout = _setting()
    path, body_of, model = CREATES[kind]
    body = body_of(news, layout)
    before = _count(model)
    first, again = _twice(api, path, body)
    assert first.status_code == 201, first.get_json()
    assert "Idempotent-Replayed" not in first.headers
    assert (again.status_code, again.get_json()) == (201, first.get_json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _count(model) == before + 1
    without_key = api.post(path, json=body)  # no key: a plain second request, as before
    assert without_key.status_code in (201, 409, 422)


def test_the_same_key_for_another_request_is_refused_and_keys_belong_to_their_api_key(
    api, app_ctx, staff_user, client
):
    _twice(api, "/lists", LIST, key="batch-1")
    other = api.post("/lists", json={**LIST, "name": "Wine"}, headers={"Idempotency-Key": "batch-1"})
    assert other.status_code == 422
    assert other.get_json()["detail"] == {"reason": "idempotency_key_reused"}
    assert "different request" in other.get_json()["error"]
    elsewhere = api.post("/lists/x/archive", headers={"Idempotency-Key": "batch-1"})  # another path too
    assert elsewhere.status_code == 422
    _, secret = create_key("Second shop", "read_write", staff_user)
    db.session.commit()
    second_key = ApiClient(client, secret).post(
        "/lists", json={**LIST, "name": "Wine"}, headers={"Idempotency-Key": "batch-1"}
    )
    assert second_key.status_code == 201 and "Idempotent-Replayed" not in second_key.headers
    names = db.session.execute(select(MailingList.name).order_by(MailingList.id)).scalars().all()
    assert names.count("Recipes") == 1 and names.count("Wine") == 1
    for bad in ("x" * 256, "tab\there"):
        refused = api.post("/lists", json=LIST, headers={"Idempotency-Key": bad})
        assert refused.status_code == 400 and refused.get_json()["detail"] == {"reason": "bad_key"}


def test_a_failed_first_try_leaves_the_key_free(api, app_ctx):
    refused = api.post("/lists", json={"description": "no name"}, headers=KEY)
    assert refused.status_code == 422
    made = api.post("/lists", json=LIST, headers=KEY)
    assert made.status_code == 201 and "Idempotent-Replayed" not in made.headers
    assert api.post("/lists", json=LIST, headers=KEY).headers["Idempotent-Replayed"] == "true"
    assert _count(IdempotentRequest) == 1


def test_actions_replay_too_campaign_test_send_goes_once(api, app_ctx, worker, smtp_server):
    news, layout = _setting()
    draft = api.post(
        "/campaigns",
        json={"name": "Spring", "subject": "Spring news", "body": BODY, "layout": layout, "lists": [news]},
    ).get_json()
    first, again = _twice(api, f"/campaigns/{draft['id']}/test", {"addresses": ["proof@example.com"]})
    assert first.status_code in (200, 202), first.get_json()
    assert again.status_code == first.status_code and again.headers["Idempotent-Replayed"] == "true"
    worker.drain()
    assert len(smtp_server.to("proof@example.com")) == 1


def test_an_upload_repeated_with_its_key_is_stored_once(api, app_ctx, media_dir):
    def upload():
        return api.post(
            "/media",
            data={"file": (BytesIO(photo()), "beach.jpg"), "alt_text": "Our shop"},
            content_type="multipart/form-data",
            headers=KEY,
        )

    first, again = upload(), upload()
    assert first.status_code == 201, first.get_json()
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert _count(MediaItem) == 1


def test_a_repeat_while_the_first_runs_is_a_409_and_an_abandoned_try_runs_again(app, api, app_ctx, write_key):
    key_id = db.session.execute(select(ApiKey.id)).scalar_one()
    with app.test_request_context("/api/v1/lists", method="POST", json=LIST):
        fingerprint = request_fingerprint()
    running = idempotency.claim(key_id, "slow-1", fingerprint, "api.list_create")
    assert running.outcome == idempotency.ClaimOutcome.RUN
    busy = api.post("/lists", json=LIST, headers={"Idempotency-Key": "slow-1"})
    assert busy.status_code == 409 and busy.get_json()["detail"] == {"reason": "request_in_progress"}
    assert "still in progress" in busy.get_json()["error"] and _count(MailingList) == 0
    # its process died: after API_IDEMPOTENCY_STALE_SECONDS a retry runs it
    db.session.execute(update(IdempotentRequest).values(claimed_at=utcnow() - timedelta(minutes=6)))
    db.session.commit()
    made = api.post("/lists", json=LIST, headers={"Idempotency-Key": "slow-1"})
    assert made.status_code == 201 and _count(MailingList) == 1


def test_concurrent_repeats_create_one(app, app_ctx, backend, write_key):
    if backend != "postgres":
        pytest.skip("SQLite has one writer: requests never overlap there")
    answers = at_once(
        app,
        write_key,
        8,
        lambda client: client.post("/lists", json=LIST, headers={"Idempotency-Key": "at-once"}),
    )
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {201, 409} and 201 in statuses, statuses
    assert len({a.get_json()["id"] for a in answers if a.status_code == 201}) == 1
    assert all(
        a.get_json()["detail"] == {"reason": "request_in_progress"} for a in answers if a.status_code == 409
    )
    db.session.expire_all()
    assert _count(MailingList) == 1 and _count(IdempotentRequest) == 1


def test_keys_expire_after_24_hours_in_the_retention_run(api, app_ctx, runner):
    api.post("/lists", json=LIST, headers=KEY)
    api.post("/lists", json={**LIST, "name": "Wine"}, headers={"Idempotency-Key": "fresh"})
    db.session.execute(
        update(IdempotentRequest)
        .where(IdempotentRequest.key == KEY["Idempotency-Key"])
        .values(created_at=utcnow() - timedelta(hours=25))
    )
    db.session.commit()
    dry = run_retention(dry_run=True)
    assert {i.category: i.count for i in dry.items}["api_idempotency_keys"] == 1 and _count(
        IdempotentRequest
    ) == 2
    output = runner.invoke(args=["retention", "run"]).output
    assert "api_idempotency_keys" in output or "API Idempotency-Keys" in output
    db.session.expire_all()
    assert db.session.execute(select(IdempotentRequest.key)).scalars().all() == ["fresh"]
    again = api.post("/lists", json=LIST, headers=KEY)  # an expired key is a new request
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert _count(MailingList) == 3


def test_an_erased_contact_leaves_no_stored_answer(api, app_ctx):
    news, _ = _setting()
    body = CREATES["contact"][1](news, None)
    made = api.post("/contacts", json=body, headers=KEY).get_json()
    api.post("/lists", json=LIST, headers={"Idempotency-Key": "unrelated"})
    erase_contact(
        db.session.execute(select(Contact).where(Contact.public_id == made["id"])).scalar_one(), CTX
    )
    db.session.commit()
    assert db.session.execute(select(IdempotentRequest.key)).scalars().all() == ["unrelated"]


def test_the_document_offers_the_header_on_every_post_that_makes_something(client):
    document = client.get("/api/v1/openapi.json").get_json()
    # POSTs that change nothing (an export only writes its audit entry; its answer is a stream, never stored;
    # the previews of a transactional template and of a form's or list's system email only render).
    reading = {
        "/segments/count",
        "/bulk-jobs/preview",
        "/tx-templates/preview",
        "/tx-templates/{public_id}/preview",
        "/forms/{public_id}/emails/confirmation/{language}/preview",
        "/lists/{public_id}/emails/reconfirmation/{language}/preview",
        "/lists/{public_id}/export",
        "/segments/{public_id}/export",
    }
    for path, operations in document["paths"].items():
        post = operations.get("post")
        if post is None or path in reading:
            continue
        headers = {p["name"]: p for p in post["parameters"] if p["in"] == "header"}
        assert "Idempotency-Key" in headers, path
        if path != "/tx":
            assert "request_in_progress" in post["responses"]["409"]["description"], path
            assert "idempotency_key_reused" in post["responses"]["422"]["description"], path
