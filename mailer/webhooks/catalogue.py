"""The events an endpoint can subscribe to, and each event's payload as the endpoint receives it.

Payloads follow the Standard Webhooks shape: `{"type", "timestamp", "data"}`. They are built when a delivery
is sent, from the ids the outbox stored: an endpoint declared as a processor (privacy settings) gets the
contact's address, name, language and fields as they are at that moment; any other endpoint gets ids only. A
contact who is erased or restricted (Art. 18) is never described beyond the id, and `contact.erased` carries
ids only.
"""

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext
from sqlalchemy import select

from mailer.campaigns.models import Campaign
from mailer.consent.models import Purpose
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.core.extensions import db
from mailer.feeds.operations import feed_of_campaign
from mailer.journeys.models import Journey, JourneyStep
from mailer.subscriptions.models.lists import MailingList

# type -> what a person reads in the endpoint form
EVENT_TYPES: dict[str, Any] = {  # values: lazy, in the page's language
    "subscription.requested": lazy_gettext("Subscription requested (awaiting double opt-in)"),
    "subscription.confirmed": lazy_gettext("Subscription confirmed"),
    "subscription.ended": lazy_gettext("Subscription ended (unsubscribed, withdrawn or expired)"),
    "consent.granted": lazy_gettext("Consent granted, per purpose"),
    "consent.withdrawn": lazy_gettext("Consent withdrawn or objected to, per purpose"),
    "contact.updated": lazy_gettext("Contact updated"),
    "contact.erased": lazy_gettext("Contact erased (ids only, always)"),
    "contact.bounced": lazy_gettext("Message bounced"),
    "contact.complained": lazy_gettext("Complaint (marked as spam)"),
    "campaign.started": lazy_gettext("Campaign started sending"),
    "campaign.finished": lazy_gettext("Campaign finished sending"),
    "journey.step_sent": lazy_gettext("Journey step sent"),
}
TEST_EVENT = "webhook.test"  # sent by "Send test event" only; no one subscribes to it


def _contact(contact_id: int | None, personal: bool) -> dict[str, Any] | None:
    """The contact as the endpoint may see it: the public id, and personal data only when allowed."""
    if contact_id is None:
        return None
    contact = db.session.get(Contact, contact_id)
    if contact is None:
        return None
    described: dict[str, Any] = {"id": contact.public_id, "status": contact.status}
    if personal and contact.status == ContactStatus.ACTIVE and contact.email:
        described.update(
            email=contact.email,
            name=contact.name or "",
            language=contact.language or "",
            fields=dict(contact.attributes or {}),
        )
    return described


def _purpose(purpose_id: int | None) -> dict[str, Any] | None:
    purpose = db.session.get(Purpose, purpose_id) if purpose_id else None
    if purpose is None:
        return None
    described: dict[str, Any] = {"key": purpose.key, "name": purpose.name, "kind": purpose.kind}
    if purpose.list_id:
        mailing_list = db.session.get(MailingList, purpose.list_id)
        if mailing_list is not None:
            described["list"] = {"id": mailing_list.public_id, "name": mailing_list.name}
    return described


def _campaign(campaign_id: int | None) -> dict[str, Any] | None:
    campaign = db.session.get(Campaign, campaign_id) if campaign_id else None
    if campaign is None:
        return None
    return {"id": campaign.public_id, "name": campaign.name, "status": campaign.status}


def _feed(campaign_id: int | None) -> dict[str, Any] | None:
    """The feed campaign whose run created this campaign (null for any other campaign)."""
    feed = feed_of_campaign(campaign_id) if campaign_id else None
    return {"id": feed.public_id, "name": feed.name} if feed else None


def _journey(journey_id: int | None, step_id: int | None) -> dict[str, Any]:
    journey = db.session.get(Journey, journey_id) if journey_id else None
    step = db.session.get(JourneyStep, step_id) if step_id else None
    return {
        "journey": {"id": journey.public_id, "name": journey.name} if journey else None,
        "step": {"position": step.position, "kind": step.kind} if step else None,
    }


def build_payload(
    event_type: str, contact_id: int | None, refs: dict, occurred_at: datetime, personal: bool
) -> dict[str, Any]:
    """The JSON object sent for one event; `personal` only for a processor endpoint."""
    personal = personal and event_type != "contact.erased"
    data: dict[str, Any] = {}
    if contact_id is not None:
        data["contact"] = _contact(contact_id, personal)
    if "purpose_id" in refs:
        purpose = _purpose(refs["purpose_id"])
        data["purpose"] = purpose
        if event_type.startswith("subscription.") and purpose is not None:
            data["list"] = purpose.get("list")
    for key in ("action", "source", "kind", "status", "fields", "counts", "message"):
        if key in refs:
            data[key] = refs[key]
    if "campaign_id" in refs:
        data["campaign"] = _campaign(refs["campaign_id"])
        if event_type.startswith("campaign."):
            data["feed"] = _feed(refs["campaign_id"])
    if "journey_id" in refs:
        data.update(_journey(refs["journey_id"], refs.get("step_id")))
    return {
        "type": event_type,
        "timestamp": occurred_at.replace(microsecond=0).isoformat() + "Z",
        "data": data,
    }


def list_purpose_ids(purpose_ids: set[int]) -> set[int]:
    """Which of these purposes are lists (their ledger events are also subscription events)."""
    if not purpose_ids:
        return set()
    rows = db.session.execute(
        select(Purpose.id).where(Purpose.id.in_(purpose_ids), Purpose.list_id.is_not(None))
    )
    return set(rows.scalars())
