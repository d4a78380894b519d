"""The fault suite's recording relay: it records what it accepts and its switches do what the faults need."""

import smtplib
import socket

import pytest

from tests.support.processes import free_port, wait_for
from tests.support.relay import RecordingRelay


@pytest.fixture()
def relay():
    relay = RecordingRelay(free_port())
    relay.start()
    yield relay
    relay.close()


def send(relay: RecordingRelay, rcpt: str) -> None:
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as smtp:
        smtp.sendmail("bounces+1f-abc@example.com", [rcpt], b"Subject: hi\r\n\r\nhello\r\n")


def test_it_records_every_accepted_recipient_and_offers_pipelining(relay):
    send(relay, "Ann@Example.com")
    send(relay, "ann@example.com")
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("pipelining")
    accepted, refused = relay.snapshot()
    assert [(a.mail_from, a.rcpt) for a in accepted] == [
        ("bounces+1f-abc@example.com", "ann@example.com")
    ] * 2
    assert refused == set()


def test_tempfail_answers_451_until_switched_back(relay):
    relay.tempfail(True)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(relay, "ann@example.com")
    assert refused.value.recipients["ann@example.com"][0] == 451
    relay.tempfail(False)
    send(relay, "ann@example.com")
    assert len(relay.snapshot()[0]) == 1


def test_down_refuses_connections_turns_open_sessions_away_and_comes_back_on_the_same_port(relay):
    session = smtplib.SMTP("127.0.0.1", relay.port, timeout=10)
    session.ehlo()
    relay.go_down()
    wait_for(lambda: _refused(relay.port), 10, "the relay to stop listening")
    assert session.mail("bounces+1f-abc@example.com")[0] == 421
    session.close()
    relay.come_back()
    send(relay, "ann@example.com")
    assert len(relay.snapshot()[0]) == 1


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:  # the listener was closing as we connected: not refusing yet, ask again
        return False
    return False


def test_the_same_two_percent_of_recipients_get_550_every_time(relay):
    relay.refuse_share(2)
    addresses = [f"r{i}@example.com" for i in range(1000)]
    refused = {a for a in addresses if relay.refuses(a)}
    assert 10 <= len(refused) <= 30
    assert refused == {a for a in addresses if relay.refuses(a)}
    victim = sorted(refused)[0]
    with pytest.raises(smtplib.SMTPRecipientsRefused) as error:
        send(relay, victim)
    assert error.value.recipients[victim] == (550, b"5.1.1 No such user here")
    assert relay.snapshot() == ([], {victim})
    relay.reset()
    send(relay, victim)
    assert [a.rcpt for a in relay.snapshot()[0]] == [victim]
