"""An alert is recorded and shown before any email can leave (a pause, or a campaign waiting for a relay that
refuses connections); its emails are retried until the relay takes them, and each owner and admin gets one."""

import pytest
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.campaigns import alerts as campaign_alerts
from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns.models import Campaign
from mailer.campaigns.relay_wait import check_relay_waits
from mailer.core.extensions import db
from mailer.staff.accounts import create_staff
from mailer.staff.models.accounts import StaffUser
from tests.support.campaigns import newsletter, wait_for
from tests.support.signup import page
from tests.support.smtp import SmtpCapture
from tests.support.workers import _recorder


def _alerts(relay) -> list:
    return [m for m in relay.messages if "paused" in (m.message["Subject"] or "")]


@pytest.fixture
def smtp_server():
    """The app's relay (SMTP_URL) refuses connections until the test starts the real SMTP server behind it."""
    relay = SmtpCapture()
    yield relay
    if getattr(relay.controller, "_thread", None) is not None:  # started by the test
        relay.stop()


def _emailed(event_id: int) -> int:
    """How many owners and admins the alert is recorded as having reached (marked once the relay took it)."""
    return campaign_alerts.emailed_counts([event_id]).get(event_id, 0)


@pytest.mark.config(MAILER_POSTAL_ADDRESS="1 Main St, Berlin")
def test_alert_shows_at_once_while_the_relay_refuses_and_is_emailed_once_when_it_is_back(
    app, app_ctx, auth, worker, smtp_server
):
    create_staff("admin@example.com", "correct horse battery", "admin")
    campaign, _ = newsletter(2)
    campaign.status, campaign.status_reason = (
        "paused",
        "Paused automatically: 20 of 24 attempts failed (550 5.7.1)",
    )
    db.session.commit()
    recorder = _recorder(app.extensions["mailer.workers"].broker)

    campaign_alerts.paused_automatically(campaign.id, policy=False)
    shown = page(auth.get(f"/admin/campaigns/{campaign.public_id}"))
    assert "Most recent messages of this campaign failed" in shown
    assert "emailing 2 owners/admins" in shown  # recorded and shown before any email could leave
    dashboard = page(auth.get("/admin/"))
    assert (
        f'data-paused-campaign="{campaign.public_id}"' in dashboard
        and "20 of 24 attempts failed" in dashboard
    )

    wait_for(lambda: len(recorder.failures) >= 2, what="both alert emails refused by the relay")
    assert {name for name, _ in recorder.failures} == {"send_campaign_alert"}
    assert all("@" not in str(exc) for _, exc in recorder.failures)  # no address in what gets logged
    assert not smtp_server.messages
    smtp_server.start()  # the relay is back: dramatiq's retry delivers

    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "campaign.auto_pause")
    ).scalar_one()
    wait_for(lambda: _emailed(event.id) == 2, timeout=45, what="the retried alert emails")
    alerts = _alerts(smtp_server)
    assert sorted(m.rcpt_tos[0] for m in alerts) == ["admin@example.com", "owner@example.com"]
    text = alerts[0].message.get_body(("plain",)).get_content()
    assert "“Spring” was paused automatically" in text and "20 of 24 attempts failed" in text
    assert "2 owners/admins alerted by email" in page(auth.get(f"/admin/campaigns/{campaign.public_id}"))

    # A redelivered message (a retry racing a slow acknowledgement) finds the email marked and sends nothing.
    owner = db.session.execute(select(StaffUser).where(StaffUser.email == "owner@example.com")).scalar_one()
    assert campaign_alerts.email_alert(event.id, owner.id) is False
    assert len(_alerts(smtp_server)) == 2


@pytest.mark.config(
    MAILER_POSTAL_ADDRESS="1 Main St, Berlin", SEND_RELAY_RETRY_SECONDS=0.3, ALERT_RELAY_WAIT_MINUTES=0
)
def test_a_refusing_relay_makes_the_campaign_wait_visibly_and_alerts_once(
    app, app_ctx, auth, worker, smtp_server
):
    campaign, contacts = newsletter(3)
    campaigns.start_campaign(campaign)
    db.session.commit()
    reason = wait_for(
        lambda: db.session.get(Campaign, campaign.id).waiting_reason, what="the wait for the relay"
    )
    assert reason.startswith("Waiting for the relay:") and "Next try at" in reason
    shown = page(auth.get(f"/admin/campaigns/{campaign.public_id}"))
    assert reason in shown and "the progress below keeps counting" in shown and "Deliveries by state" in shown
    assert f'data-waiting-campaign="{campaign.public_id}"' in page(auth.get("/admin/"))

    check_relay_waits()  # the scheduler's minute job: the wait began
    assert check_relay_waits()["alerted"] == 1  # ALERT_RELAY_WAIT_MINUTES=0: at the next run
    assert "emailing 1 owner/admin" in page(auth.get(f"/admin/campaigns/{campaign.public_id}"))
    recorder = _recorder(app.extensions["mailer.workers"].broker)
    wait_for(
        lambda: any(name == "send_campaign_alert" for name, _ in recorder.failures), what="the refused alert"
    )
    assert not smtp_server.messages

    smtp_server.start()  # the relay is back: the campaign goes on by itself, the alert's retry gets through
    wait_for(
        lambda: db.session.get(Campaign, campaign.id).status == "sent",
        timeout=60,
        what="the campaign to finish",
    )
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "campaign.relay_wait_alert")
    ).scalar_one()
    wait_for(lambda: _emailed(event.id) == 1, timeout=45, what="the retried alert email")
    waits = [m for m in smtp_server.messages if "waiting for the relay" in (m.message["Subject"] or "")]
    assert [m.rcpt_tos for m in waits] == [["owner@example.com"]]
    news = sorted(r for m in smtp_server.messages if m not in waits for r in m.rcpt_tos)
    assert news == sorted(c.email for c in contacts)  # each recipient once, nobody lost
    assert check_relay_waits()["ended"] == 1
    assert "data-waiting-campaign" not in page(auth.get("/admin/"))
