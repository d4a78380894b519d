"""A campaign waiting for the relay is shown at once; a wait that lasts alerts owners and admins once."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.campaigns.models import Campaign
from mailer.campaigns.relay_wait import check_relay_waits
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from tests.support.deliveries import seed
from tests.support.proxy import app_config_from_environment
from tests.support.signup import page

REASON = "Waiting for the relay: connection refused. Next try at 14:05:00 UTC."


def wait(campaign, reason: str = REASON) -> None:
    """What the engine writes while the relay is down (and clears when mail flows again)."""
    row = db.session.get(Campaign, campaign.id)
    row.waiting_reason, row.waiting_until = reason, utcnow() + timedelta(seconds=30)
    db.session.commit()


def actions() -> list[str]:
    return list(
        db.session.execute(
            select(AuditEvent.action).where(AuditEvent.action.startswith("campaign.")).order_by(AuditEvent.id)
        ).scalars()
    )


def test_the_wait_is_shown_on_the_page_the_dashboard_and_the_progress_json(auth):
    campaign, _ = seed()
    wait(campaign)
    shown = page(auth.get(f"/admin/campaigns/{campaign.public_id}"))
    assert REASON in shown and "sending goes on by itself as soon as the relay takes" in shown
    assert "Deliveries by state" in shown and 'data-progress="bar"' in shown  # progress still visible
    assert f'data-waiting-campaign="{campaign.public_id}"' in page(auth.get("/admin/"))
    assert (
        auth.get(f"/admin/campaigns/{campaign.public_id}/progress.json").get_json()["waiting_reason"]
        == REASON
    )

    db.session.get(Campaign, campaign.id).waiting_reason = ""  # mail flows again
    db.session.commit()
    shown = auth.get(f"/admin/campaigns/{campaign.public_id}").text
    assert REASON not in shown and "data-relay-wait hidden" in shown
    assert "data-waiting-campaign" not in page(auth.get("/admin/"))


@pytest.mark.config(ALERT_RELAY_WAIT_MINUTES=5)
def test_one_alert_per_wait_that_lasts(auth):
    campaign, _ = seed()
    wait(campaign)
    now = utcnow()
    assert check_relay_waits(now) == {"started": 1, "ended": 0, "alerted": 0}
    assert check_relay_waits(now + timedelta(minutes=4)) == {"started": 0, "ended": 0, "alerted": 0}
    assert check_relay_waits(now + timedelta(minutes=6))["alerted"] == 1
    assert check_relay_waits(now + timedelta(minutes=9))["alerted"] == 0  # once per wait
    shown = page(auth.get(f"/admin/campaigns/{campaign.public_id}"))
    assert "Waiting since" in shown and "Alert raised at" in shown and "emailing 1 owner/admin" in shown
    alert = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "campaign.relay_wait_alert")
    ).scalar_one()
    assert alert.details["kind"] == "relay" and alert.details["notified"] == 1

    db.session.get(Campaign, campaign.id).waiting_reason = ""
    db.session.commit()
    assert check_relay_waits(now + timedelta(minutes=10))["ended"] == 1
    wait(campaign)  # a new outage is a new wait, with its own alert
    assert check_relay_waits(now + timedelta(minutes=11))["started"] == 1
    assert check_relay_waits(now + timedelta(minutes=17))["alerted"] == 1
    assert actions() == [
        "campaign.relay_wait",
        "campaign.relay_wait_alert",
        "campaign.relay_back",
        "campaign.relay_wait",
        "campaign.relay_wait_alert",
    ]


def test_a_paused_or_cancelled_campaign_is_not_waiting(auth):
    campaign, _ = seed()
    wait(campaign)
    check_relay_waits()
    db.session.get(Campaign, campaign.id).status = "paused"
    db.session.commit()
    assert check_relay_waits()["ended"] == 1
    assert "data-waiting-campaign" not in page(auth.get("/admin/"))


def test_the_threshold_comes_from_the_environment(monkeypatch, tmp_path):
    from mailer import create_app

    app_config_from_environment(monkeypatch, ALERT_RELAY_WAIT_MINUTES="2.5")
    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    assert app.config["ALERT_RELAY_WAIT_MINUTES"] == 2.5
    app.extensions["mailer.workers"].broker.close()
