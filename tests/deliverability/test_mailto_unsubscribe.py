"""mailto: List-Unsubscribe (RFC 2369, issue 17): campaign mail carries a signed unsubscribe address beside
the HTTPS one-click URL; an email to it, over real SMTP into the bounce listener or left in the bounce
mailbox, unsubscribes as the one-click POST does, once; forged and expired addresses are refused."""

import re
import smtplib
import time

import pytest

from mailer.consent.ledger import verify_chain
from mailer.core.security import address_keys
from mailer.core.urls import MAILTO_UNSUBSCRIBE_PURPOSE
from mailer.deliverability.inbound import process_inbound
from mailer.deliverability.listener import InboundServer
from tests.deliverability.bounce_support import (
    send_campaign,
    subscribers,
    subscription_status,
    withdrawals,
)
from tests.support.dovecot import start_dovecot
from tests.support.smtp import _free_port

HEADER = re.compile(r"<(https://[^>]+|http://[^>]+)>, <mailto:([^>?]+)\?subject=unsubscribe>")


@pytest.fixture
def listener(app):
    server = InboundServer(app, "127.0.0.1", _free_port())
    server.start()
    yield server
    server.stop()


def _header(smtp_server, address: str) -> tuple[str, str]:
    """(HTTPS URL, mailto: address) from the List-Unsubscribe header of the message the person received."""
    [received] = smtp_server.to(address)
    match = HEADER.fullmatch(received.message["List-Unsubscribe"])
    assert match, received.message["List-Unsubscribe"]
    assert received.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"  # RFC 8058, as before
    return match.group(1), match.group(2)


def _email(sender: str, to: str, subject: str = "unsubscribe") -> bytes:
    """What a mail client sends for a mailto: List-Unsubscribe."""
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{time.monotonic_ns()}@client.example.net>\r\n\r\nPlease unsubscribe me.\r\n"
    ).encode()


def _send(port: int, sender: str, to: str) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as conn:
        conn.ehlo("mail.example.net")
        conn.mail(sender)
        code, text = conn.rcpt(to)
        if code != 250:
            return code, text
        return conn.data(_email(sender, to))


def test_an_email_to_the_mailto_address_unsubscribes_like_the_one_click_post(
    app, news, worker, smtp_server, listener
):
    ann, bob = subscribers(news, "ann@example.net", "bob@example.net")
    campaign, _ = send_campaign(worker, news)
    _, ann_mailto = _header(smtp_server, ann.email)
    bob_url, _ = _header(smtp_server, bob.email)

    code, reply = _send(listener.port, ann.email, ann_mailto)
    one_click = app.test_client().post(
        bob_url.removeprefix(app.config["MAILER_BASE_URL"]),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert code == 250 and b'unsubscribed: unsubscribed from the list "News"' in reply
    assert one_click.status_code == 200
    assert subscription_status(ann, news) == subscription_status(bob, news) == "unsubscribed"
    [by_mail], [by_post] = withdrawals(ann), withdrawals(bob)
    assert (by_mail.source, by_post.source) == ("mailto-unsubscribe", "one-click-unsubscribe")
    for event in (by_mail, by_post):  # the same event but for the channel
        assert event.purpose_id == news.purpose.id
        assert event.details == {"list": news.public_id, "campaign": campaign.public_id}
    assert verify_chain().ok

    # Sent again (a mail client retrying, a person impatient): nothing more happens.
    code, reply = _send(listener.port, ann.email, ann_mailto)
    assert code == 250 and b"already: already unsubscribed" in reply
    assert len(withdrawals(ann)) == 1 and subscription_status(bob, news) == "unsubscribed"


def test_forged_and_expired_addresses_are_refused(app, news, worker, smtp_server, listener):
    ann, bob = subscribers(news, "ann@example.net", "bob@example.net")
    _, sent = send_campaign(worker, news)
    _, ann_mailto = _header(smtp_server, ann.email)
    local, domain = ann_mailto.split("@")
    # Bob's delivery id with Ann's signature; Ann's with another signature; an address older than links live.
    bob_id = sent[bob.email].id
    tag, _, signature = local.rpartition("-")
    forged_id = local.replace(f"+unsub-{sent[ann.email].id:x}-", f"+unsub-{bob_id:x}-") + f"@{domain}"
    forged_mac = f"{tag}-{'0' * len(signature)}@{domain}"
    long_ago = int(time.time()) - app.config["RECIPIENT_TOKEN_MAX_AGE"] - 3 * 24 * 3600
    expired_token = address_keys(MAILTO_UNSUBSCRIBE_PURPOSE).mint(sent[ann.email].id, issued=long_ago)
    expired = f"bounces+unsub-{expired_token}@{domain}"

    answers = {
        name: _send(listener.port, ann.email, to)
        for name, to in [("forged id", forged_id), ("forged mac", forged_mac), ("expired", expired)]
    }

    assert answers["forged id"][0] == answers["forged mac"][0] == 550
    assert b"No such unsubscribe address" in answers["forged mac"][1]
    assert answers["expired"][0] == 550 and b"has expired" in answers["expired"][1]
    # The same addresses in a mailbox's copy of such an email (no envelope there): refused, nothing changed.
    for to in (forged_id, forged_mac, expired):
        assert process_inbound(_email(ann.email, to)).status == "refused"
    assert subscription_status(ann, news) == subscription_status(bob, news) == "confirmed"
    assert withdrawals(ann) == withdrawals(bob) == []


def test_an_unsubscribe_email_left_in_the_bounce_mailbox_is_acted_on_once(
    app, runner, news, worker, smtp_server
):
    ann, bob = subscribers(news, "ann@example.net", "bob@example.net")
    send_campaign(worker, news)
    _, ann_mailto = _header(smtp_server, ann.email)
    local, domain = ann_mailto.split("@")
    for dovecot in start_dovecot():
        app.config.update(BOUNCE_IMAP_URL=dovecot.url(), BOUNCE_IMAP_CA_FILE=dovecot.ca_file)
        dovecot.deliver(_email(ann.email, ann_mailto))
        dovecot.deliver(_email(ann.email, ann_mailto, subject="unsubscribe (again)"))
        dovecot.deliver(_email(bob.email, f"{local[:-4]}0000@{domain}"))  # forged

        result = runner.invoke(args=["bounces", "poll"])

        assert result.exit_code == 0, result.output
        assert "3 message(s) (1 already, 1 refused, 1 unsubscribed); 3 moved" in result.output
        assert len(dovecot.folder("Processed")) == 2 and len(dovecot.folder("Not reports")) == 1
    assert subscription_status(ann, news) == "unsubscribed" and subscription_status(bob, news) == "confirmed"
    [event] = withdrawals(ann)
    assert event.source == "mailto-unsubscribe"


def test_the_address_survives_a_change_of_case_and_a_key_rotation(app, news, worker, smtp_server, listener):
    ann, bob = subscribers(news, "ann@example.net", "bob@example.net")
    send_campaign(worker, news)
    _, ann_mailto = _header(smtp_server, ann.email)
    _, bob_mailto = _header(smtp_server, bob.email)
    app.config.update(SECRET_KEY="a-new-secret-key", SECRET_KEY_FALLBACKS=[app.config["SECRET_KEY"]])

    upper = _send(listener.port, ann.email, ann_mailto.upper())  # some systems change a local part's case
    rotated = _send(listener.port, bob.email, bob_mailto)

    assert upper[0] == rotated[0] == 250
    assert subscription_status(ann, news) == subscription_status(bob, news) == "unsubscribed"
    app.config["SECRET_KEY_FALLBACKS"] = []  # once the old key is dropped, its addresses are refused
    assert _send(listener.port, bob.email, bob_mailto)[0] == 550


def test_the_address_fits_a_local_part_and_names_nobody(app, news, worker, smtp_server):
    (ann,) = subscribers(news, "ann@example.net")
    send_campaign(worker, news)
    _, mailto = _header(smtp_server, ann.email)
    local, domain = mailto.split("@")
    assert len(local) <= 64 and domain == "example.com"
    assert re.fullmatch(r"bounces\+unsub-[0-9a-f]+-[0-9a-f]+-[0-9a-f]{20}", local)
    assert ann.public_id not in mailto and "ann" not in local
