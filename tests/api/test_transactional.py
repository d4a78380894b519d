"""POST /api/v1/tx and GET /api/v1/tx/{id}: an integration sends a stored template to one contact or address;
the email that arrives (DKIM, no List-Unsubscribe, no footer), idempotency (also concurrent, on PostgreSQL),
refusals and bad input as 4xx with a message."""

import re

import pytest
from sqlalchemy import func, select

from mailer.consent.ledger import RequestContext
from mailer.contacts.operations import get_or_create_contact
from mailer.core.extensions import db
from mailer.privacy.erasure import erase_contact
from mailer.privacy.restriction import restrict
from mailer.transactional.models import TxMessage
from tests.api.helpers import at_once
from tests.transactional.helpers import SETTINGS, head, reset_template, signing_key, verifies

RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")

CTX = RequestContext("test")
BODY = {
    "template": "password-reset",
    "email": "ann@example.net",
    "name": "Ann Lee",
    "data": {"reset_url": "https://shop.example/reset/t0k3n", "code": "482913"},
}


def _count() -> int:
    return db.session.execute(select(func.count()).select_from(TxMessage)).scalar_one()


@pytest.mark.config(**SETTINGS)
def test_send_a_password_reset_and_follow_its_status(app_ctx, api, read_api, worker, smtp_server):
    record = signing_key()
    reset_template()
    answer = api.post("/tx", json=BODY, headers={"Idempotency-Key": "reset-1"})
    assert answer.status_code == 202, answer.json
    assert answer.json["status"] == "queued" and answer.json["template"] == "password-reset"
    assert RFC3339.fullmatch(answer.json["created_at"]), answer.json  # the document's format: date-time
    worker.drain()

    [received] = smtp_server.to("ann@example.net")
    assert verifies(received.data, record)
    headers = head(received.data)
    assert "DKIM-Signature:" in headers and "List-Unsubscribe" not in headers
    message = received.message
    assert message["To"] == "Ann Lee <ann@example.net>" and message["Subject"] == "Your code 482913"
    html = message.get_body(("html",)).get_content()
    assert "Hello Ann" in html and 'href="https://shop.example/reset/t0k3n"' in html
    assert "nsubscribe" not in html and "<img" not in html

    status = read_api.get(f"/tx/{answer.json['id']}")
    assert status.status_code == 200
    assert status.json["status"] == "sent" and status.json["message_id"] == message["Message-ID"]
    assert RFC3339.fullmatch(status.json["finished_at"]) and status.json["contact_id"] is None
    assert read_api.get("/tx/nope").status_code == 404
    assert read_api.post("/tx", json=BODY).status_code == 403  # a read-only key sends nothing


@pytest.mark.config(**SETTINGS)
def test_a_retry_with_the_same_key_answers_the_same_and_sends_nothing(app_ctx, api, worker, smtp_server):
    reset_template()
    first = api.post("/tx", json=BODY, headers={"Idempotency-Key": "order-1001"})
    worker.drain()
    again = api.post("/tx", json=dict(BODY), headers={"Idempotency-Key": "order-1001"})
    assert (again.status_code, again.json) == (202, first.json)
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    other = api.post("/tx", json={**BODY, "data": {"code": "1"}}, headers={"Idempotency-Key": "order-1001"})
    assert other.status_code == 422 and "already used for a different request" in other.json["error"]
    assert other.json["detail"] == {"reason": "idempotency_key_reused"}
    bad_key = api.post("/tx", json=BODY, headers={"Idempotency-Key": "x" * 300})
    assert bad_key.status_code == 400 and "Idempotency-Key" in bad_key.json["error"]
    worker.drain()
    assert len(smtp_server.to("ann@example.net")) == 1 and _count() == 1
    fresh = api.post("/tx", json=BODY, headers={"Idempotency-Key": "order-1002"})
    assert fresh.status_code == 202 and fresh.json["id"] != first.json["id"]


@pytest.mark.config(**SETTINGS)
def test_concurrent_retries_send_once(app, app_ctx, backend, write_key, worker, smtp_server):
    if backend != "postgres":
        pytest.skip("SQLite has one writer; the service test covers it there (tests/transactional)")
    reset_template()
    answers = at_once(
        app,
        write_key,
        8,
        lambda client: client.post("/tx", json=BODY, headers={"Idempotency-Key": "checkout-42"}),
    )
    assert [a.status_code for a in answers] == [202] * 8
    assert len({a.json["id"] for a in answers}) == 1
    worker.drain()
    assert len(smtp_server.to("ann@example.net")) == 1 and _count() == 1


@pytest.mark.config(**SETTINGS)
def test_refusals_and_bad_input_are_4xx_with_a_reason(app_ctx, api, worker, smtp_server):
    reset_template()
    kept, _ = get_or_create_contact("kept@example.net", source="test")
    gone, _ = get_or_create_contact("gone@example.net", source="test")
    db.session.commit()
    kept_id, gone_id = kept.public_id, gone.public_id
    restrict(kept, CTX)
    erase_contact(gone, CTX)
    db.session.commit()
    for contact_id, reason in ((kept_id, "restricted"), (gone_id, "erased")):
        refused = api.post("/tx", json={"template": "password-reset", "contact_id": contact_id})
        assert (refused.status_code, refused.json["detail"]) == (422, {"reason": reason})
    suppressed = api.post("/tx", json={"template": "password-reset", "email": "gone@example.net"})
    assert suppressed.status_code == 422 and suppressed.json["detail"]["reason"] in ("suppressed", "erased")
    cases = [
        ({"template": "nope", "email": "a@example.net"}, 404, "no transactional template"),
        ({"template": "password-reset", "contact_id": "nobody"}, 404, "no contact"),
        ({"template": "password-reset"}, 422, "either contact_id or email"),
        ({"template": "password-reset", "email": "a@example.net", "contact_id": kept_id}, 422, "one of them"),
        ({"template": "password-reset", "email": "not an address"}, 422, "email"),
        ({"email": "a@example.net"}, 422, "not valid"),
        ({"template": "password-reset", "email": "a@example.net", "data": [1]}, 422, "not valid"),
        ({"template": "password-reset", "email": "a@example.net", "bcc": "x@example.net"}, 422, "Unknown"),
        (
            {"template": "password-reset", "email": "a@example.net", "data": {"x": "y" * 17000}},
            413,
            "merge data",
        ),
    ]
    for body, status, words in cases:
        answer = api.post("/tx", json=body)
        assert answer.status_code == status, (body, answer.json)
        assert words in answer.json["error"], (body, answer.json)
    assert (
        api.post("/tx", data="template=x", content_type="application/x-www-form-urlencoded").status_code
        == 415
    )
    worker.drain()
    assert not smtp_server.messages and _count() == 0
