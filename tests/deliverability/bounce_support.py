"""Sample reports (tests/deliverability/reports/*.eml, written after real Postfix, Exchange, Gmail, qmail and
Yahoo mail)
and a campaign really sent through the engine for them to refer to."""

import smtplib
from pathlib import Path
from string import Template

from sqlalchemy import select

from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns.models import Campaign
from mailer.consent.models import ConsentEvent
from mailer.contacts.models.suppression import Suppression
from mailer.core.extensions import db
from mailer.deliverability.models import BounceEvent
from mailer.delivery.models import Delivery
from mailer.delivery.replies import verp_address
from mailer.subscriptions.models.lists import Subscription
from tests.support.campaigns import deliveries, make_campaign, subscriber

REPORTS = Path(__file__).parent / "reports"


def report(
    name: str,
    delivery: Delivery | None = None,
    *,
    verp: str | None = None,
    message_id: str | None = None,
    recipient: str = "someone@example.net",
    to: str | None = None,
) -> bytes:
    """A sample report filled in for a delivery (or explicit values), with CRLF line ends as on the wire."""
    if delivery is not None:
        verp = verp if verp is not None else verp_address(delivery.id)
        message_id = message_id if message_id is not None else delivery.message_id
        recipient = delivery.contact.email or recipient
    values = {
        "VERP": verp or "bounces@example.com",
        "MESSAGE_ID": message_id or "<unknown@example.com>",
        "RECIPIENT": recipient,
    }
    values["TO"] = to or values["VERP"]
    text = Template((REPORTS / name).read_text()).substitute(values)
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def send_campaign(worker, mailing_list, name: str = "Spring"):
    """Start a campaign to a list and wait until the worker has sent it; returns its deliveries by address."""
    campaign = make_campaign([mailing_list])
    campaign.name = name
    db.session.commit()
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    sent = deliveries(campaign)
    assert sent and all(d.status == "sent" and d.message_id for d in sent), [
        (d.status, d.reason) for d in sent
    ]
    return campaign, {d.contact.email: d for d in sent}


def campaign_left_sending(app, mailing_list, name: str, **settings) -> Campaign:
    """A campaign that has started but whose batches no worker has picked up yet (the worker is stopped)."""
    app.extensions["mailer.workers"].stop_worker()
    campaign = make_campaign([mailing_list], **settings)
    campaign.name = name
    db.session.commit()
    campaigns.start_campaign(campaign)
    db.session.commit()
    return campaign


def campaign_state(campaign) -> tuple[str, str]:
    """The campaign's status and status reason as stored now."""
    db.session.expire_all()
    row = db.session.get(Campaign, campaign.id)
    return row.status, row.status_reason or ""


def subscribers(mailing_list, *addresses: str):
    contacts = [subscriber(mailing_list, address) for address in addresses]
    db.session.commit()
    return contacts


def suppression_reason(contact) -> str | None:
    db.session.expire_all()
    return db.session.execute(
        select(Suppression.reason).where(Suppression.email_hash == contact.email_hash)
    ).scalar()


def events(kind: str | None = None) -> list[BounceEvent]:
    db.session.expire_all()
    query = select(BounceEvent).order_by(BounceEvent.id)
    if kind:
        query = query.where(BounceEvent.kind == kind)
    return list(db.session.execute(query).scalars())


def delivery_state(delivery_id: int) -> Delivery:
    db.session.expire_all()
    return db.session.get(Delivery, delivery_id)


def smtp_send(port: int, rcpt: str, data: bytes, mail_from: str = "<>"):
    """Deliver a message to a listener as a reporting MTA would; returns the DATA reply (code, text)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as conn:
        conn.ehlo("mx.example.net")
        conn.mail(mail_from)
        code, text = conn.rcpt(rcpt)
        assert code == 250, (code, text)
        return conn.data(data)


def withdrawals(contact) -> list[ConsentEvent]:
    """The contact's consent withdrawals in the ledger, oldest first."""
    db.session.expire_all()
    return list(
        db.session.execute(
            select(ConsentEvent)
            .where(ConsentEvent.contact_id == contact.id, ConsentEvent.action == "withdrawn")
            .order_by(ConsentEvent.id)
        ).scalars()
    )


def subscription_status(contact, mailing_list) -> str:
    db.session.expire_all()
    return db.session.execute(
        select(Subscription.status).where(
            Subscription.contact_id == contact.id, Subscription.list_id == mailing_list.id
        )
    ).scalar()
