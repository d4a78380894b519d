"""REQUIREMENTS A1, D1, D3 and C2 asserted once for every kind of outgoing message, on the bytes an SMTP
server received; every kind DKIM-signed for a From domain with a key and verified by dkimpy (C4), the double
opt-in confirmation email included.

Each kind is produced by the code that sends it in production (the function its actor calls, or the real
workers for a campaign), to a real aiosmtpd server on loopback, with an https base URL.
"""

import re
from datetime import timedelta
from email import message_from_bytes, policy
from email.header import decode_header, make_header

import dkim
import pytest

from mailer.campaigns import alerts as campaign_alerts
from mailer.campaigns import composition
from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns.models import Campaign
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery.dkim import SIGNED_HEADERS, generate_key, public_key_record, signer_for_domain
from mailer.delivery.outgoing import MARKETING_KINDS, MessageKind
from mailer.privacy import mail as privacy_mail
from mailer.privacy.requests import open_request
from mailer.staff import notices as staff_notices
from mailer.staff.accounts import create_staff
from mailer.staff.management import invite_staff
from mailer.subscriptions.confirmation import send_confirmation_email
from mailer.subscriptions.models.lists import Subscription
from mailer.subscriptions.preference_links import send_link_email
from mailer.transactional import operations as tx_operations
from mailer.transactional.templates import save_template
from mailer.webhooks import alerts as webhook_alerts
from mailer.webhooks.operations import EndpointFields, create_endpoint
from tests.support.campaigns import newsletter

DOMAIN = "example.com"
SELECTOR = "mail2026"
SENDER_NAME = "Zoë Bücher"
ORGANISATION = "Zoë’s Bücherstube"
SETTINGS = {
    "MAILER_FROM": f"{SENDER_NAME} <news@{DOMAIN}>",
    "MAILER_ORGANISATION": ORGANISATION,
    "MAILER_BASE_URL": "https://mail.example.com",
    "MAILER_POSTAL_ADDRESS": "1 Main St, 10115 Berlin",
    "MAILER_FEEDBACK_ID": "mailer",  # campaigns then carry Feedback-ID (D5), which C2 signs
}
# C2: the headers that must be signed whenever the message has them, in the signer's order.
C2_HEADERS = (
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "mime-version",
    "content-type",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "feedback-id",
)


def _campaign(**settings):
    campaign, contacts = newsletter(1, subject="Frühlingsgrüße für {{ contact.first_name }}", **settings)
    return campaign, contacts[0]


def _confirmation(app, worker):
    _, contact = _campaign()
    db.session.execute(
        Subscription.__table__.update()
        .where(Subscription.contact_id == contact.id)
        .values(status="pending", confirmed_at=None)
    )
    db.session.commit()
    send_confirmation_email(contact.id)
    return contact.email


def _preferences_link(app, worker):
    _, contact = _campaign()
    send_link_email(contact.id)
    return contact.email


def _privacy_request(send, type_="access", new_email=""):
    """A sender of one kind of privacy request mail: the request is logged, then its mail sent."""

    def sender(app, worker):
        _, contact = _campaign()
        details = {"new_email": new_email} if new_email else None
        req = open_request(type_, "email", contact=contact, details=details)
        db.session.commit()
        send(req.id)
        return new_email or contact.email

    return sender


def _repermission(app, worker):
    _, contact = _campaign()
    privacy_mail.send_repermission(contact.id)
    return contact.email


def _deadline_reminder(app, worker):
    create_staff("privacy@example.com", "correct horse battery", "privacy")
    open_request("access", "email", email="late@example.org", received_at=utcnow() - timedelta(days=40))
    db.session.commit()
    privacy_mail.send_deadline_reminders()
    return "privacy@example.com"


def _staff_invitation(app, worker):
    owner = create_staff("owner@example.com", "correct horse battery", "owner")
    invite_staff(owner, "new.colleague@example.com", "marketer")  # its actor sends the invitation
    db.session.commit()
    return "new.colleague@example.com"


def _staff_lockout(app, worker):
    user = create_staff("locked@example.com", "correct horse battery", "marketer")
    user.locked_until = utcnow() + timedelta(minutes=15)
    db.session.commit()
    staff_notices.send_staff_lockout_notice(user.id)
    return "locked@example.com"


def _campaign_alert(app, worker):
    create_staff("owner@example.com", "correct horse battery", "owner")
    campaign, _ = _campaign()
    campaign.name = "Frühling “Spezial”"
    db.session.commit()
    campaign_alerts.paused_automatically(campaign.id, policy=True)  # its actor emails the owner
    return "owner@example.com"


def _webhook_alert(app, worker):
    create_staff("owner@example.com", "correct horse battery", "owner")
    endpoint, _ = create_endpoint(EndpointFields(url="https://93.184.216.34/hook", events=["contact.erased"]))
    endpoint.active, endpoint.disabled_reason = False, "Disabled automatically after 20 failed attempts."
    webhook_alerts.endpoint_disabled(endpoint.id)  # its actor emails the owner
    db.session.commit()
    return "owner@example.com"


def _campaign_message(app, worker):
    campaign, contact = _campaign(reply_to="help@example.com")
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status == "sent"
    return contact.email


def _campaign_test(app, worker):
    campaign, contact = _campaign()
    assert composition.send_test_messages(campaign.id, [contact.email]) == 1
    return contact.email


def _transactional(app, worker):
    _, contact = _campaign()
    save_template(
        {
            "key": "receipt",
            "name": "Receipt",
            "subject": "Ihre Bestellung {{ data.order }} bei Zoë",
            "body": "Danke, {{ contact.first_name }}! [Ansehen](https://shop.example.com/{{ data.order }})",
            "reply_to": "help@example.com",
        }
    )
    tx_operations.accept({}, template_key="receipt", contact_id=contact.public_id, data={"order": "1001"})
    return contact.email


SENDERS = {
    MessageKind.CONFIRMATION: _confirmation,
    MessageKind.PREFERENCES_LINK: _preferences_link,
    MessageKind.PRIVACY_VERIFICATION: _privacy_request(privacy_mail.send_verification),
    MessageKind.ADDRESS_RECONFIRMATION: _privacy_request(
        privacy_mail.send_address_reconfirmation, "rectification", new_email="new@example.org"
    ),
    MessageKind.EXPORT_LINK: _privacy_request(privacy_mail.send_export_link),
    MessageKind.REPERMISSION: _repermission,
    MessageKind.DEADLINE_REMINDER: _deadline_reminder,
    MessageKind.STAFF_INVITATION: _staff_invitation,
    MessageKind.STAFF_LOCKOUT: _staff_lockout,
    MessageKind.CAMPAIGN_ALERT: _campaign_alert,
    MessageKind.WEBHOOK_ALERT: _webhook_alert,
    MessageKind.CAMPAIGN: _campaign_message,
    MessageKind.CAMPAIGN_TEST: _campaign_test,
    MessageKind.TRANSACTIONAL: _transactional,
}


def test_every_kind_of_message_is_covered():
    assert set(SENDERS) == set(MessageKind)
    assert set(SIGNED_HEADERS) >= set(C2_HEADERS)


def _received(smtp_server, kind, app, worker) -> bytes:
    recipient = SENDERS[kind](app, worker)
    worker.drain()
    arrived = smtp_server.to(recipient)
    assert len(arrived) == 1, [m.message["Subject"] for m in smtp_server.messages]
    return arrived[0].data


def _head(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def _fields(raw: bytes, name: bytes) -> list[bytes]:
    """Every raw (still folded) value of one header field."""
    unfolded = re.sub(rb"\r\n[ \t]", b" ", _head(raw))
    return [
        line.split(b":", 1)[1].strip()
        for line in unfolded.split(b"\r\n")
        if line.lower().startswith(name.lower() + b":")
    ]


def _dns(record: bytes):
    wanted = f"{SELECTOR}._domainkey.{DOMAIN}.".encode()
    return lambda name, timeout=5: record if name == wanted else None


@pytest.fixture
def signing_key(app_ctx):
    """An active DKIM key for the From domain; returns its public TXT record."""
    generate_key(DOMAIN, SELECTOR)
    db.session.commit()
    return public_key_record(signer_for_domain(DOMAIN).key.public_key()).encode()


@pytest.mark.config(**SETTINGS)
@pytest.mark.parametrize("kind", list(MessageKind))
def test_requirements_on_the_received_bytes(app, app_ctx, worker, smtp_server, signing_key, kind):
    raw = _received(smtp_server, kind, app, worker)
    head = _head(raw)
    message = message_from_bytes(raw, policy=policy.default)

    # A1 (and A7): marketing carries exactly one https List-Unsubscribe and one One-Click; nothing else does.
    unsubscribe, one_click = _fields(raw, b"List-Unsubscribe"), _fields(raw, b"List-Unsubscribe-Post")
    if kind in MARKETING_KINDS:
        assert len(unsubscribe) == 1 and one_click == [b"List-Unsubscribe=One-Click"]
        uris = re.findall(rb"<([^>]*)>", unsubscribe[0])
        https = [uri for uri in uris if not uri.startswith(b"mailto:")]
        assert len(https) == 1 and https[0].startswith(b"https://mail.example.com/u/")
        assert b"=?" not in unsubscribe[0]  # A2: the URL literally
    else:
        assert unsubscribe == [] and one_click == []

    # D1: multipart/alternative, text first and HTML last; non-ASCII names and subjects as RFC 2047 words.
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert head.isascii()
    (from_field,) = _fields(raw, b"From")
    assert from_field.startswith(b"=?utf-8?") and from_field.endswith(f"<news@{DOMAIN}>".encode())
    assert str(make_header(decode_header(from_field.decode().rsplit(" <", 1)[0]))) == SENDER_NAME
    (subject_field,) = _fields(raw, b"Subject")
    subject = str(make_header(decode_header(subject_field.decode())))
    assert subject == str(message["Subject"])
    if not subject.isascii():
        assert subject_field.startswith(b"=?utf-8?")
    assert len(_fields(raw, b"Message-ID")) == 1 and _fields(raw, b"Message-ID")[0].endswith(
        f"@{DOMAIN}>".encode()
    )
    assert len(_fields(raw, b"Date")) == 1

    # D3: no line over 998 octets; quoted-printable lines at most 76.
    lines = raw.split(b"\r\n")
    assert max(map(len, lines)) <= 998
    for part in message.iter_parts():
        if part["Content-Transfer-Encoding"] == "quoted-printable":
            encoded = part.as_bytes(policy=policy.SMTP).split(b"\r\n\r\n", 1)[1]
            assert max(map(len, encoded.split(b"\r\n"))) <= 76

    # C2: the signature covers every header of the list the message has, read from h=.
    (signature,) = _fields(raw, b"DKIM-Signature")
    tags = {
        key.strip(): value.strip()
        for key, _, value in (
            tag.partition(b"=") for tag in re.sub(rb"\s+", b"", signature).split(b";") if tag
        )
    }
    present = {name.decode().lower() for name in re.findall(rb"^([!-9;-~]+):", head, re.M)}
    expected = [name for name in C2_HEADERS if name in present]
    signed = tags[b"h"].decode().split(":")
    assert [name for name in signed if name in C2_HEADERS] == expected
    if kind in MARKETING_KINDS:
        assert {"list-unsubscribe", "list-unsubscribe-post", "feedback-id"} <= set(signed)
    if kind == MessageKind.CAMPAIGN:
        assert "reply-to" in signed
    assert tags[b"c"] == b"relaxed/relaxed" and b"l" not in tags and tags[b"d"] == DOMAIN.encode()

    # C4: dkimpy verifies it against the published key; a changed byte of the body breaks it.
    assert dkim.verify(raw, dnsfunc=_dns(signing_key))
    body_at = raw.index(b"\r\n\r\n") + 4
    tampered = raw[:body_at] + raw[body_at:].replace(b"e", b"E", 1)
    assert not dkim.verify(tampered, dnsfunc=_dns(signing_key))


@pytest.mark.config(**SETTINGS)
def test_the_double_opt_in_confirmation_is_signed_and_verifies_with_dkimpy(
    app, app_ctx, worker, smtp_server, signing_key
):
    raw = _received(smtp_server, MessageKind.CONFIRMATION, app, worker)
    assert raw.startswith(b"DKIM-Signature: ")
    assert dkim.verify(raw, dnsfunc=_dns(signing_key))
    assert b"https://mail.example.com/confirm/" in raw


@pytest.mark.config(**SETTINGS)
@pytest.mark.parametrize("kind", [MessageKind.CONFIRMATION, MessageKind.CAMPAIGN])
def test_without_a_key_the_message_goes_out_unsigned(app, app_ctx, worker, smtp_server, kind):
    raw = _received(smtp_server, kind, app, worker)
    assert b"DKIM-Signature" not in _head(raw)
