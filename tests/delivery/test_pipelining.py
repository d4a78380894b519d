"""The SMTP transport pipelines MAIL, RCPT and DATA (RFC 2920) when offered, with the same outcomes."""

import smtplib

import pytest
from aiosmtpd.controller import Controller

from mailer.delivery.transport import SmtpSettings, SMTPTransport
from tests.support.smtp import SmtpCapture, _free_port, _Handler


class _PipeliningHandler(_Handler):
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]


@pytest.fixture
def pipelining_server():
    capture = SmtpCapture()
    capture.port = _free_port()
    capture.controller = Controller(
        _PipeliningHandler(capture), hostname="127.0.0.1", port=capture.port, decode_data=False
    )
    capture.start()
    yield capture
    capture.stop()


def test_pipelined_transactions_deliver_refuse_and_recover(pipelining_server):
    transport = SMTPTransport(SmtpSettings(pipelining_server.url))
    message = b"From: a@example.com\r\nTo: b@example.net\r\nSubject: x\r\n\r\n.leading dot\r\nbody\r\n"
    reply = transport.send("bounces@example.com", ["b@example.net"], message)
    assert reply.code == 250 and transport._local.conn.has_extn("pipelining")

    pipelining_server.rcpt_replies["gone@example.net"] = "550 5.1.1 No such user"
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        transport.send("bounces@example.com", ["gone@example.net"], message)
    assert refused.value.recipients["gone@example.net"][0] == 550

    pipelining_server.data_replies.append("451 4.3.0 Try later")
    with pytest.raises(smtplib.SMTPDataError) as later:
        transport.send("bounces@example.com", ["c@example.net"], message)
    assert later.value.smtp_code == 451

    assert transport.send("bounces@example.com", ["d@example.net"], message).code == 250  # same connection
    transport.close()
    [first, last] = pipelining_server.messages
    assert first.rcpt_tos == ["b@example.net"] and last.rcpt_tos == ["d@example.net"]
    assert b"\r\n.leading dot\r\n" in first.data  # dot-stuffing undone by the server: the body is intact


def test_a_batch_pipelines_across_messages_and_reports_each_outcome_once(pipelining_server):
    transport = SMTPTransport(SmtpSettings(pipelining_server.url))
    pipelining_server.rcpt_replies["gone@example.net"] = "550 5.1.1 No such user"
    pipeline = transport.pipeline()
    outcomes = []
    for n, rcpt in enumerate(["a@example.net", "gone@example.net", "b@example.net", "c@example.net"]):
        if rcpt == "c@example.net":
            pipelining_server.data_replies.append(
                "452 4.3.1 Out of storage"
            )  # b's content is answered with this
        message = f"From: n@example.com\r\nTo: {rcpt}\r\nSubject: {n}\r\n\r\n.dot line {n}\r\n".encode()
        outcomes += pipeline.submit(rcpt, "bounces@example.com", rcpt, message)
    # Each message's answer arrives with the next message's envelope; the last one is still in flight.
    assert [key for key, _ in outcomes] == ["a@example.net", "gone@example.net", "b@example.net"]
    outcomes += pipeline.finish()
    by_key = dict(outcomes)
    assert len(outcomes) == 4 and set(by_key) == {
        "a@example.net",
        "gone@example.net",
        "b@example.net",
        "c@example.net",
    }
    assert by_key["a@example.net"].code == 250 and by_key["c@example.net"].code == 250
    assert isinstance(by_key["gone@example.net"], smtplib.SMTPRecipientsRefused)
    assert (
        isinstance(by_key["b@example.net"], smtplib.SMTPDataError)
        and by_key["b@example.net"].smtp_code == 452
    )
    assert [m.rcpt_tos for m in pipelining_server.messages] == [["a@example.net"], ["c@example.net"]]
    assert b"\r\n.dot line 0\r\n" in pipelining_server.messages[0].data
    assert pipeline.finish() == []
    transport.close()


def test_a_batch_without_pipelining_sends_one_by_one(smtp_server):
    transport = SMTPTransport(SmtpSettings(smtp_server.url))
    pipeline = transport.pipeline()
    message = b"From: n@example.com\r\nTo: a@example.net\r\nSubject: x\r\n\r\nbody\r\n"
    [(key, reply)] = pipeline.submit("a", "bounces@example.com", "a@example.net", message)
    assert key == "a" and reply.code == 250 and pipeline.finish() == []
    assert not transport._local.conn.has_extn("pipelining") and len(smtp_server.messages) == 1
    transport.close()
