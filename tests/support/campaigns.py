"""Building campaigns and subscribers for the sending tests through the real operations."""

import time

from sqlalchemy import select

from mailer.campaigns.models import Campaign, Layout
from mailer.consent.ledger import RequestContext, record_consent
from mailer.consent.models import Purpose
from mailer.contacts.models.contact import Contact
from mailer.contacts.operations import get_or_create_contact, normalise_email
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery.models import Delivery
from mailer.subscriptions.lists import create_list, ensure_tracking_purposes
from mailer.subscriptions.models.lists import Subscription

CTX = RequestContext("test")
LAYOUT = """<!doctype html>
<html><head><meta charset="utf-8"><title>{{ subject }}</title>
<style>p { color: #333333; margin: 0 0 12px 0; } .footer { font-size: 12px; color: #666666; }</style></head>
<body><span style="display:none">{{ preheader }}</span>
{{ content }}
<p class="footer">{{ organisation }} · {{ postal_address }}<br>
<a href="{{ preferences_url }}">Manage preferences</a> · <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>"""
BODY = """# Hello {{ contact.first_name | default("there") }}

Our spring news is here. Read [the full story](https://example.org/news?id=7&lang=en) or
visit [our shop](https://shop.example.org/).
"""


def make_layout(html: str = LAYOUT) -> Layout:
    layout = Layout(name="Test layout", html=html, verified=True)
    db.session.add(layout)
    db.session.flush()
    return layout


def subscriber(
    mailing_list,
    email: str,
    name: str | None = None,
    *,
    status: str = "confirmed",
    consent: bool = True,
    tracking: tuple[str, ...] = (),
) -> Contact:
    """A contact on a list; confirmed with the list purpose granted unless told otherwise."""
    contact, _ = get_or_create_contact(normalise_email(email), source="test", name=name)
    db.session.add(
        Subscription(
            contact_id=contact.id,
            list_id=mailing_list.id,
            status=status,
            source="test",
            confirmed_at=utcnow() if status == "confirmed" else None,
        )
    )
    if consent:
        record_consent(contact, mailing_list.purpose, "confirmed", CTX)
    for key in tracking:
        purpose = db.session.execute(select(Purpose).where(Purpose.key == key)).scalar_one()
        record_consent(contact, purpose, "granted", CTX)
    db.session.flush()
    return contact


def make_campaign(
    lists,
    *,
    layout=None,
    subject="Spring news for {{ contact.first_name | default('you') }}",
    body=BODY,
    **settings,
) -> Campaign:
    campaign = Campaign(
        name="Spring",
        subject=subject,
        preheader="What's new this spring",
        body=body,
        body_format="markdown",
        layout=layout or make_layout(),
        **settings,
    )
    campaign.lists = list(lists)
    db.session.add(campaign)
    db.session.flush()
    return campaign


def newsletter(n: int, **campaign_settings) -> tuple[Campaign, list[Contact]]:
    """A list with n confirmed subscribers and a campaign to it, committed."""
    ensure_tracking_purposes()
    mailing_list = create_list("News")
    contacts = [subscriber(mailing_list, f"person{i}@example.net", f"Person{i} Test") for i in range(n)]
    campaign = make_campaign([mailing_list], **campaign_settings)
    db.session.commit()
    return campaign, contacts


def deliveries(campaign) -> list[Delivery]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(Delivery).where(Delivery.campaign_id == campaign.id).order_by(Delivery.id)
        ).scalars()
    )


def wait_for(condition, timeout: float = 30, what: str = "condition"):
    """Poll a condition until it holds (a deadline, not a sleep used as synchronisation)."""
    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def campaign_status(campaign) -> str:
    db.session.expire_all()
    return db.session.get(Campaign, campaign.id).status
