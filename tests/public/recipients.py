"""Seeding recipients, campaigns and their per-recipient
links for the preference, unsubscribe and tracking tests.

Rows are made through the real services (lists, contacts, the consent ledger); campaigns, deliveries and links
are inserted directly, as the sending engine would leave them after a send.
"""

from dataclasses import dataclass
from datetime import timedelta

from mailer.campaigns.models import Campaign, Link
from mailer.consent.ledger import RequestContext, record_consent
from mailer.consent.models import Purpose
from mailer.contacts.models.contact import Contact
from mailer.contacts.operations import get_or_create_contact
from mailer.core import urls as recipient_links
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery.models import Delivery
from mailer.subscriptions.lists import create_list, ensure_tracking_purposes
from mailer.subscriptions.models.lists import MailingList, Subscription

SIGNUP = RequestContext("form", ip="192.0.2.1", user_agent="SignupBrowser/1.0")


def tracking_purposes() -> dict[str, Purpose]:
    """{"open": Purpose, "click": Purpose}, created if missing."""
    opens, clicks = ensure_tracking_purposes()
    return {"open": opens, "click": clicks}


def subscribed_contact(
    email: str, lists: list[MailingList], tracking: tuple[str, ...] = (), name: str | None = None
) -> Contact:
    """A contact who confirmed the given lists (and tracking kinds) through double opt-in."""
    contact, _ = get_or_create_contact(email, source="form", name=name)
    purposes = tracking_purposes()
    now = utcnow()
    for mailing_list in lists:
        db.session.add(
            Subscription(
                contact_id=contact.id,
                list_id=mailing_list.id,
                status="confirmed",
                source="form",
                confirmed_at=now,
            )
        )
        record_consent(contact, mailing_list.purpose, "confirmed", SIGNUP)
    for kind in tracking:
        record_consent(contact, purposes[kind], "confirmed", SIGNUP)
    db.session.commit()
    return contact


@dataclass
class SentCampaign:
    """A campaign as it looks after sending: its links, and one delivery per contact."""

    campaign: Campaign
    links: list[Link]
    mailing_list: MailingList


def sent_campaign(
    mailing_list: MailingList,
    contacts: list[Contact],
    urls: list[str] | None = None,
    sent_minutes_ago: int = 60,
    name: str = "Spring news",
) -> SentCampaign:
    """Insert a sent campaign with tracking on, its links and a 'sent' delivery for each contact."""
    started = utcnow() - timedelta(minutes=sent_minutes_ago)
    campaign = Campaign(
        name=name,
        subject=name,
        status="sent",
        track_opens=True,
        track_clicks=True,
        started_at=started,
        finished_at=started + timedelta(seconds=30),
    )
    campaign.lists = [mailing_list]
    db.session.add(campaign)
    db.session.flush()
    links = [
        Link(campaign_id=campaign.id, url=url)
        for url in (urls or ["https://example.org/spring", "https://example.org/shop?x=1&y=2"])
    ]
    db.session.add_all(links)
    for contact in contacts:
        db.session.add(
            Delivery(
                campaign_id=campaign.id,
                contact_id=contact.id,
                list_id=mailing_list.id,
                status="sent",
                message_id=f"<{contact.public_id}@example.com>",
                finished_at=started,
            )
        )
    db.session.commit()
    return SentCampaign(campaign, links, mailing_list)


def news_list(name: str = "News", visibility: str = "public") -> MailingList:
    """A list with its consent purpose."""
    mailing_list = create_list(name, f"About {name.lower()}.", visibility)
    db.session.commit()
    return mailing_list


def path_of(url: str, base: str) -> str:
    """The path part of an absolute URL built from MAILER_BASE_URL."""
    assert url.startswith(base), url
    return url[len(base) :]


def unsubscribe_path(
    app, contact: Contact, mailing_list: MailingList | None, campaign: Campaign | None
) -> str:
    return path_of(
        recipient_links.unsubscribe_url(
            contact.public_id,
            mailing_list.public_id if mailing_list else None,
            campaign.public_id if campaign else None,
        ),
        app.config["MAILER_BASE_URL"],
    )


def preferences_path(app, contact: Contact) -> str:
    return path_of(recipient_links.preferences_url(contact.public_id), app.config["MAILER_BASE_URL"])


def open_path(app, contact: Contact, campaign: Campaign) -> str:
    return path_of(
        recipient_links.open_pixel_url(contact.public_id, campaign.public_id), app.config["MAILER_BASE_URL"]
    )


def click_path(app, contact: Contact, campaign: Campaign, link: Link) -> str:
    return path_of(
        recipient_links.click_url(contact.public_id, campaign.public_id, link.id),
        app.config["MAILER_BASE_URL"],
    )
