"""Resending uncertain deliveries: an operator's explicit, audited decision (the person may get it twice)."""

from flask_babel import gettext

from mailer import audit
from mailer.campaigns import sending
from mailer.campaigns.models import Campaign
from mailer.campaigns.rendering import CampaignError
from mailer.core.extensions import db

MAX_CHOSEN = 500  # deliveries named in one request; "all" has no limit


class ResendError(Exception):
    """The resend can't happen as asked; the message says why, for a person."""


def none_chosen() -> str:
    """The refusal of a resend that names no delivery."""
    return gettext("Choose at least one uncertain delivery, or resend them all.")


def too_many() -> str:
    """The refusal of a resend that names more deliveries than one request may."""
    return gettext("Choose at most %(max)s deliveries at once, or resend them all.", max=MAX_CHOSEN)


def resend_uncertain(
    campaign: Campaign,
    delivery_ids: list[int] | None,
    *,
    actor: object = None,
    ip: str | None = None,
    via: str = "admin",
    api_key: str | None = None,
) -> int:
    """Queue the campaign's uncertain deliveries (all, or these ids) again, audit it, commit; how many."""
    if delivery_ids is not None and not delivery_ids:
        raise ResendError(none_chosen())
    if delivery_ids is not None and len(delivery_ids) > MAX_CHOSEN:
        raise ResendError(too_many())
    try:
        count = sending.requeue_uncertain(campaign.id, sorted(set(delivery_ids)) if delivery_ids else None)
    except CampaignError as exc:
        db.session.rollback()
        raise ResendError(str(exc)) from None
    if count:
        details = {
            "count": count,
            "chosen": "all" if delivery_ids is None else len(set(delivery_ids)),
            "via": via,
        }
        if api_key:
            details["api_key"] = api_key
        audit.record("campaign.resend_uncertain", "campaign", campaign.public_id, details, actor=actor, ip=ip)
    db.session.commit()
    return count
