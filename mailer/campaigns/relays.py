"""Removing a named relay: the campaigns that chose it are the campaigns layer's to change.

A relay still chosen by a campaign that is scheduled, sending or paused cannot be removed (its messages would
silently move to another relay); drafts and finished campaigns that chose it fall back to the default relay.
"""

from sqlalchemy import or_, select, update

from mailer import audit
from mailer.campaigns.models import JOURNEY_STEP_STATUS, Campaign, CampaignStatus
from mailer.core.extensions import db
from mailer.delivery.relays import Relay, RelayError

# A journey's send steps (status "journey") send for as long as the journey runs or may be resumed.
ACTIVE = (CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.PAUSED, JOURNEY_STEP_STATUS)


def remove_relay(relay: Relay, actor=None, ip: str | None = None) -> None:
    """Delete a relay nobody active sends through, audited; the caller commits."""
    chosen = or_(Campaign.relay_id == relay.id, Campaign.failover_relay_id == relay.id)
    active = list(
        db.session.execute(
            select(Campaign.name).where(chosen, Campaign.status.in_(ACTIVE)).order_by(Campaign.name)
        ).scalars()
    )
    if active:
        raise RelayError(
            {
                "relay": f"Relay “{relay.name}” is chosen by campaigns that are still to send: "
                f"{', '.join(active[:5])}{' …' if len(active) > 5 else ''}. Remove it when they are done."
            }
        )
    db.session.execute(update(Campaign).where(Campaign.relay_id == relay.id).values(relay_id=None))
    db.session.execute(
        update(Campaign).where(Campaign.failover_relay_id == relay.id).values(failover_relay_id=None)
    )
    audit.record("relay.delete", "relay", relay.name, {"host": relay.host}, actor=actor, ip=ip)
    db.session.delete(relay)
    db.session.flush()
