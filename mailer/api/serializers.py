"""What the API returns for each resource. Only public ids
leave the app; sensitive field values are masked."""

from datetime import datetime

from sqlalchemy import select

from mailer.campaigns import ab_testing
from mailer.campaigns.models import Campaign
from mailer.consent.models import ConsentEvent, ConsentState, Purpose
from mailer.contacts import fields as field_service
from mailer.contacts.models.contact import Contact
from mailer.contacts.tags import tags_of
from mailer.core.extensions import db
from mailer.segments.models import Segment
from mailer.subscriptions.models.lists import MailingList, Subscription


def iso(moment: datetime | None) -> str | None:
    """Naive UTC timestamps as RFC 3339 strings."""
    return moment.isoformat(timespec="seconds") + "Z" if moment is not None else None


def purpose_json(purpose: Purpose | None) -> dict | None:
    if purpose is None:
        return None
    return {
        "id": purpose.public_id,
        "key": purpose.key,
        "name": purpose.name,
        "kind": purpose.kind,
        "list_id": purpose.mailing_list.public_id if purpose.mailing_list is not None else None,
    }


def list_json(mailing_list: MailingList, counts: dict[str, int]) -> dict:
    return {
        "id": mailing_list.public_id,
        "name": mailing_list.name,
        "description": mailing_list.description,
        "visibility": mailing_list.visibility,
        "created_at": iso(mailing_list.created_at),
        "archived_at": iso(mailing_list.archived_at),
        "subscribers": {status: counts.get(status, 0) for status in ("pending", "confirmed", "unsubscribed")},
    }


def _subscriptions(contact: Contact) -> list[dict]:
    query = select(Subscription).where(Subscription.contact_id == contact.id).order_by(Subscription.id)
    return [
        {
            "list": {"id": sub.mailing_list.public_id, "name": sub.mailing_list.name},
            "status": sub.status,
            "source": sub.source,
            "requested_at": iso(sub.requested_at),
            "confirmed_at": iso(sub.confirmed_at),
            "unsubscribed_at": iso(sub.unsubscribed_at),
        }
        for sub in db.session.execute(query).scalars()
    ]


def _consent(contact: Contact) -> list[dict]:
    query = (
        select(ConsentState).where(ConsentState.contact_id == contact.id).order_by(ConsentState.purpose_id)
    )
    return [
        {"purpose": purpose_json(state.purpose), "status": state.status, "since": iso(state.updated_at)}
        for state in db.session.execute(query).scalars()
    ]


def _fields(contact: Contact) -> list[dict]:
    """Custom field values as staff see them: sensitive ones masked (never revealed through the API)."""
    return [
        {
            "key": field.key,
            "label": field.label,
            "category": field.category,
            "value": shown,
            "masked": field.is_sensitive,
        }
        for field, shown in field_service.values_for(contact)
    ]


def contact_json(contact: Contact) -> dict:
    """A contact's profile, subscriptions and current consent per purpose."""
    return {
        "id": contact.public_id,
        "email": contact.email,
        "name": contact.name,
        "status": contact.status,
        "attributes": dict(contact.attributes or {}),
        "fields": _fields(contact),
        "source": contact.source,
        "created_at": iso(contact.created_at),
        "last_activity_at": iso(contact.last_activity_at),
        "subscriptions": _subscriptions(contact),
        "consent": _consent(contact),
        "tags": [tag.name for tag in tags_of([contact.id]).get(contact.id, [])],
    }


def contact_summary_json(
    contact: Contact, lists: list[tuple[MailingList, str]], tags: list | None = None
) -> dict:
    """A contact as the listing shows it: no custom fields or consent (GET /contacts/{id} has them)."""
    return {
        "id": contact.public_id,
        "email": contact.email,
        "name": contact.name,
        "status": contact.status,
        "source": contact.source,
        "created_at": iso(contact.created_at),
        "last_activity_at": iso(contact.last_activity_at),
        "lists": [{"id": mailing_list.public_id, "status": status} for mailing_list, status in lists],
        "tags": [tag.name for tag in tags or []],
    }


def event_json(event: ConsentEvent) -> dict:
    """One ledger event; the personal columns are null once erasure blanked them."""
    notice = event.notice
    return {
        "id": event.hash,
        "action": event.action,
        "purpose": purpose_json(event.purpose),
        "source": event.source,
        "notice": {
            "key": notice.key,
            "version": notice.version,
            "content_hash": notice.content_hash,
            "content": notice.content,
        }
        if notice is not None
        else None,
        "email": event.email,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "details": event.details or {},
        "created_at": iso(event.created_at),
        "prev_hash": event.prev_hash,
    }


def campaign_json(campaign: Campaign, progress: dict | None = None, deliveries: dict | None = None) -> dict:
    """A campaign; one fetched by id also has its progress
    and its deliveries per state (count and reasons)."""
    data: dict[str, object] = {
        "id": campaign.public_id,
        "name": campaign.name,
        "subject": campaign.subject,
        "category": campaign.category,
        "status": campaign.status,
        "status_reason": campaign.status_reason or "",
        "waiting_reason": campaign.waiting_reason if campaign.status == "sending" else "",
        "waiting_until": iso(campaign.waiting_until) if campaign.status == "sending" else None,
        "lists": [lst.public_id for lst in campaign.lists],
        "scheduled_at": iso(campaign.scheduled_at),
        "started_at": iso(campaign.started_at),
        "finished_at": iso(campaign.finished_at),
        "created_at": iso(campaign.created_at),
    }
    if progress is not None:
        data["progress"] = progress
    if deliveries is not None:
        data["deliveries"] = deliveries
        data["ab_test"] = ab_test_json(campaign)
    return data


def ab_test_json(campaign: Campaign, content: bool = False) -> dict | None:
    """A campaign's A/B test: settings, the winner and how it was chosen, the variants as sent, figures, the
    verdict so far (as the campaign page shows it); `content`: each variant's content too."""
    test = campaign.ab_test
    if test is None:
        return None
    stats = {s.position: s for s in ab_testing.variant_stats(campaign)} if test.sample_planned_at else {}
    variants = []
    for variant in campaign.ab_variants:
        view = ab_testing.VariantView(campaign, variant)
        figures = stats.get(variant.position)
        variants.append(
            {
                "letter": ab_testing.letter(variant.position),
                "label": variant.label,
                "subject": view.subject,
                "from_name": view.from_name,
                "own_content": bool((variant.body or "").strip()),
                **(
                    {
                        "sent": figures.sent,
                        "click_consenting": figures.click_consenting,
                        "clickers": figures.clickers,
                        "click_rate": round(figures.click_rate, 4),
                        "open_consenting": figures.open_consenting,
                        "openers": figures.openers,
                    }
                    if figures
                    else {}
                ),
                **(
                    {
                        "body_format": view.body_format,
                        "body": view.body or "",
                        "text_body": view.text_body or "",
                        "visual_design": bool(variant.body_project),
                    }
                    if content
                    else {}
                ),
            }
        )
    live = ab_testing.judge(list(stats.values())) if stats else None
    if live is not None:
        live = {**live, "leader": ab_testing.letter(live["leader"])}
    if test.winner is not None:
        state = "decided"
    else:
        state = "testing" if test.sample_planned_at is not None else "draft"
    return {
        "test_percent": test.test_percent,
        "wait_minutes": test.wait_minutes,
        "criterion": test.criterion,
        "seed": test.seed,
        "sample_size": test.sample_size,
        "decide_at": iso(test.decide_at),
        "winner": ab_testing.letter(test.winner) if test.winner is not None else None,
        "decided_at": iso(test.decided_at),
        "decision": test.decision or {},
        "variants": variants,
        "state": state,
        "live": live,
        "can_pick": state == "testing" and campaign.status in ("sending", "paused"),
        "min_consenting": ab_testing.MIN_CONSENTING,
    }


def uncertain_json(row) -> dict:
    """An uncertain delivery: its id (for a resend), the
    contact's public id, why, and when it was handed over."""
    return {
        "id": str(row.id),
        "contact_id": row.contact_public_id,
        "reason": row.reason,
        "attempts": row.attempts,
        "handed_at": iso(row.handed_at),
    }


def segment_json(segment: Segment) -> dict:
    return {
        "id": segment.public_id,
        "name": segment.name,
        "conditions": segment.tree,
        "created_at": iso(segment.created_at),
        "updated_at": iso(segment.updated_at),
    }
