"""Transactional mail end to end on a real SMTP server: the message that arrives, its headers and body, the
sent log, idempotency, refusals before and at send time, erasure and retention."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mailer.consent.ledger import RequestContext
from mailer.contacts.models.suppression import SuppressionReason
from mailer.contacts.operations import email_hash, get_or_create_contact
from mailer.contacts.suppression import suppress
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery.models import OutboxMessage
from mailer.privacy.erasure import erase_contact
from mailer.privacy.restriction import restrict
from mailer.privacy.retention import run_retention
from mailer.transactional import operations as tx
from mailer.transactional.models import TxMessage
from mailer.transactional.templates import set_archived
from tests.support.workers import drain
from tests.transactional.helpers import SETTINGS, head, reset_template, signing_key, verifies

CTX = RequestContext("test")
PAYLOAD = {"template": "password-reset", "email": "ann@example.net", "data": {"code": "482913"}}


def _accept(payload=PAYLOAD, key=None):
    return tx.accept(
        payload,
        template_key=payload["template"],
        contact_id=payload.get("contact_id"),
        email=payload.get("email"),
        data=payload.get("data"),
        idempotency_key=key,
    )


def _message(public_id) -> TxMessage:
    db.session.expire_all()
    return db.session.execute(select(TxMessage).where(TxMessage.public_id == public_id)).scalar_one()


@pytest.mark.config(**SETTINGS)
def test_a_contact_gets_a_signed_message_without_marketing_footer_or_tracking(app, app_ctx, smtp_server):
    record = signing_key()
    reset_template()
    ann, _ = get_or_create_contact("ann@example.net", source="test", name="Ann Lee")
    db.session.commit()
    payload = {
        "template": "password-reset",
        "contact_id": ann.public_id,
        "data": {"reset_url": "https://shop.example/reset/t0k3n", "code": "482913"},
    }
    accepted = _accept(payload)
    assert not smtp_server.messages  # nothing leaves in the caller's thread
    assert accepted.message.status == "queued"
    # The worker starts only now: running from the start, it could take the message before the status above
    # was read (the full run of 2463e38 read "sending" there).
    workers = app.extensions["mailer.workers"]
    workers.start_worker(threads=2)
    try:
        drain(app)
    finally:
        workers.stop_worker()
    [received] = smtp_server.to("ann@example.net")
    raw, message = received.data, received.message
    assert verifies(raw, record)
    headers = head(raw)
    assert "DKIM-Signature:" in headers
    assert "List-Unsubscribe" not in headers and "List-Unsubscribe-Post" not in headers
    assert message["Subject"] == "Your code 482913"
    assert message["Reply-To"] == "help@shop.example"
    assert message["From"] == "Shop <orders@shop.example>"
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "Hello Ann" in html and "Hello Ann" in text
    assert 'href="https://shop.example/reset/t0k3n"' in html  # the link itself, never rewritten for tracking
    assert "/t/" not in html and "<img" not in html  # no click redirect, no pixel
    for part in (html, text):
        assert "nsubscribe" not in part and "preferences" not in part.lower()  # no marketing footer
        assert "Example Shop" in part and "1 Main St" in part  # who sent it, as every message says

    sent = _message(accepted.message.public_id)
    assert sent.status == "sent" and sent.message_id == message["Message-ID"]
    assert sent.data is None  # the merge data (a reset link) is not kept once the message is final


@pytest.mark.config(**SETTINGS)
def test_a_repeat_with_the_same_key_sends_nothing_and_a_changed_body_is_refused(app_ctx, worker, smtp_server):
    reset_template()
    first = _accept(key="order-1001")
    again = _accept(dict(PAYLOAD), key="order-1001")
    assert again.replayed and again.message.public_id == first.message.public_id
    with pytest.raises(tx.TxRefused) as refused:
        _accept({**PAYLOAD, "data": {"code": "000000"}}, key="order-1001")
    assert refused.value.status == 422 and "different request" in refused.value.message
    worker.drain()
    assert len(smtp_server.to("ann@example.net")) == 1
    assert db.session.execute(select(func.count()).select_from(TxMessage)).scalar_one() == 1
    db.session.expire_all()
    after = _accept(key="order-1001")  # a repeat after it was sent: still the first message, still one email
    assert after.replayed and after.message.status == "sent"
    worker.drain()
    assert len(smtp_server.to("ann@example.net")) == 1


@pytest.mark.config(**SETTINGS)
def test_concurrent_repeats_of_one_key_send_once(app, backend, worker, smtp_server):
    with app.app_context():
        reset_template()
    answers, errors = [], []
    start = threading.Barrier(6)

    def attempt():
        with app.app_context():
            try:
                start.wait()
                answers.append(_accept(key="checkout-42").message.public_id)
            except Exception as exc:
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if backend == "sqlite":  # one writer at a time: a thread may find the database busy, never a second row
        assert all("locked" in str(e) for e in errors), errors
    else:
        assert not errors, errors
    assert len(set(answers)) == 1 and answers
    worker.drain()
    assert len(smtp_server.to("ann@example.net")) == 1
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(TxMessage)).scalar_one() == 1


@pytest.mark.config(**SETTINGS)
def test_restricted_erased_and_suppressed_recipients_are_refused(app_ctx, worker, smtp_server):
    reset_template()
    kept, _ = get_or_create_contact("kept@example.net", source="test")
    gone, _ = get_or_create_contact("gone@example.net", source="test")
    db.session.commit()
    restrict(kept, CTX)
    erase_contact(gone, CTX)
    suppress(email_hash("bounced@example.net"), SuppressionReason.HARD_BOUNCE)
    db.session.commit()
    cases = {
        "restricted": {"contact_id": kept.public_id},
        "erased": {"contact_id": gone.public_id},
        "suppressed": {"email": "bounced@example.net"},
    }
    for reason, recipient in cases.items():
        with pytest.raises(tx.TxRefused) as refused:
            _accept({"template": "password-reset", "data": {}, **recipient})
        assert (refused.value.status, refused.value.reason) == (422, reason)
    with pytest.raises(tx.TxRefused) as restricted_by_address:
        _accept({"template": "password-reset", "email": "KEPT@example.net"})
    assert restricted_by_address.value.reason == "restricted"
    with pytest.raises(tx.TxRefused) as unknown:
        _accept({"template": "no-such-thing", "email": "ann@example.net"})
    assert unknown.value.status == 404
    template = reset_template(key="receipt", name="Receipt")
    set_archived(template, True)
    with pytest.raises(tx.TxRefused) as archived:
        _accept({"template": "receipt", "email": "ann@example.net"})
    assert archived.value.status == 409
    worker.drain()
    assert not smtp_server.messages
    assert db.session.execute(select(func.count()).select_from(TxMessage)).scalar_one() == 0


@pytest.mark.config(**SETTINGS)
def test_a_contact_restricted_after_the_request_gets_nothing(app, app_ctx, smtp_server):
    reset_template()
    bea, _ = get_or_create_contact("bea@example.net", source="test")
    db.session.commit()
    accepted = _accept({"template": "password-reset", "contact_id": bea.public_id, "data": {"code": "1"}})
    restrict(bea, CTX)
    db.session.commit()
    app.extensions["mailer.workers"].start_worker(threads=1)  # the worker starts after the restriction
    drain(app)
    refused = _message(accepted.message.public_id)
    assert (refused.status, refused.reason, refused.data) == ("refused", "restricted", None)
    assert not smtp_server.messages


@pytest.mark.config(**SETTINGS)
def test_temporary_refusal_is_retried_and_a_permanent_one_fails(app_ctx, smtp_server):
    reset_template()
    smtp_server.data_replies.append("451 4.3.0 Try again later")
    first = _accept()
    with pytest.raises(Exception, match="451"):
        tx.send_message(first.message.id)
    waiting = _message(first.message.public_id)
    assert (waiting.status, waiting.smtp_code, waiting.attempts) == ("queued", 451, 1)
    assert waiting.data == {"code": "482913"}  # kept for the retry
    tx.send_message(first.message.id)
    assert _message(first.message.public_id).status == "sent"
    tx.send_message(first.message.id)  # a redelivered job finds nothing left to send
    assert len(smtp_server.to("ann@example.net")) == 1

    smtp_server.rcpt_replies["nobody@example.net"] = "550 5.1.1 No such user"
    second = _accept({"template": "password-reset", "email": "nobody@example.net", "data": {"code": "2"}})
    tx.send_message(second.message.id)
    failed = _message(second.message.public_id)
    assert (failed.status, failed.smtp_code) == ("failed", 550) and "No such user" in failed.reason


@pytest.mark.config(**SETTINGS)
def test_erasure_and_retention_remove_the_person_from_the_sent_log(app_ctx, worker, smtp_server):
    reset_template()
    cleo, _ = get_or_create_contact("cleo@example.net", source="test", name="Cleo Stone")
    db.session.commit()
    to_contact = _accept({"template": "password-reset", "contact_id": cleo.public_id, "data": {"code": "1"}})
    by_address = _accept({"template": "password-reset", "email": "cleo@example.net", "data": {"code": "2"}})
    other = _accept({"template": "password-reset", "email": "dora@example.net", "data": {"code": "3"}})
    worker.drain()
    erase_contact(db.session.get(type(cleo), cleo.id), CTX)
    db.session.commit()
    for accepted in (to_contact, by_address):
        row = _message(accepted.message.public_id)
        assert (row.email, row.email_hash, row.name, row.data) == ("", "", "", None)
        assert row.status == "sent"  # what happened stays, without the person
    kept = _message(other.message.public_id)
    assert kept.email == "dora@example.net"

    kept.created_at = utcnow() - timedelta(days=91)
    db.session.commit()
    report = run_retention(dry_run=True)
    assert {i.category: i.count for i in report.items}["transactional_messages"] == 1
    run_retention()
    assert _message(other.message.public_id).email == ""


@pytest.mark.config(**SETTINGS, TX_MAX_DATA_BYTES=200)
def test_merge_data_is_bounded_in_size_and_depth(app_ctx):
    reset_template()
    too_big = {**PAYLOAD, "data": {"code": "x" * 300}}
    too_deep = {**PAYLOAD, "data": {"code": "1", "a": [[[[[[[[[[["deep"]]]]]]]]]]]}}
    for payload, status in ((too_big, 413), (too_deep, 422), ({**PAYLOAD, "data": ["code"]}, 422)):
        with pytest.raises(tx.TxRefused) as refused:
            _accept(payload)
        assert refused.value.status == status, refused.value.message
    assert "at most 200 are accepted" in _refusal(too_big).message
    assert db.session.execute(select(func.count()).select_from(TxMessage)).scalar_one() == 0


def _refusal(payload) -> tx.TxRefused:
    try:
        _accept(payload)
    except tx.TxRefused as exc:
        return exc
    raise AssertionError("accepted")


@pytest.mark.config(**SETTINGS)
def test_a_message_whose_worker_died_mid_send_becomes_uncertain_and_is_not_sent_again(app_ctx, smtp_server):
    reset_template()
    accepted = _accept()
    message = _message(accepted.message.public_id)
    message.status, message.claimed_at = (
        "sending",
        utcnow() - timedelta(minutes=20),
    )  # as a dead worker left it
    recent = _accept({**PAYLOAD, "email": "bo@example.net"})
    recent_row = _message(recent.message.public_id)
    recent_row.status, recent_row.claimed_at = "sending", utcnow() - timedelta(minutes=2)
    db.session.commit()
    assert tx.mark_stuck_uncertain() == 1
    stuck = _message(accepted.message.public_id)
    assert (stuck.status, stuck.data) == ("uncertain", None)
    assert _message(recent.message.public_id).status == "sending"  # still within its time
    tx.send_message(accepted.message.id)  # a redelivered job
    assert not smtp_server.messages


@pytest.mark.config(**SETTINGS)
def test_embedded_mode_keeps_the_message_in_the_outbox_as_transactional(app_ctx, worker):
    reset_template()
    _accept()
    worker.drain()
    [stored] = db.session.execute(select(OutboxMessage)).scalars().all()
    assert (stored.rcpt_to, stored.category, stored.subject) == (
        "ann@example.net",
        "transactional",
        "Your code 482913",
    )
    assert b"List-Unsubscribe" not in stored.raw
