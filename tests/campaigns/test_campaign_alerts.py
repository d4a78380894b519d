"""An automatic pause (5.7.x policy refusals) is explained on the campaign page and dashboard, and owners and
admins get one email per pause through the transactional path."""

import pytest
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns.models import Campaign
from mailer.core.extensions import db
from mailer.staff.accounts import create_staff
from tests.support.campaigns import newsletter
from tests.support.signup import page

REFUSAL = "554 5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy"


def _alerts(smtp_server) -> list:
    return [m for m in smtp_server.messages if "paused" in (m.message["Subject"] or "")]


@pytest.mark.config(SEND_POLICY_PAUSE=2, SEND_CHUNK_SIZE=3, MAILER_POSTAL_ADDRESS="1 Main St, Berlin")
def test_policy_pause_alerts_owners_and_admins_once_and_explains_itself(
    app, app_ctx, auth, worker, smtp_server
):
    create_staff("admin@example.com", "correct horse battery", "admin")
    create_staff("marketer@example.com", "correct horse battery", "marketer")
    create_staff("gone@example.com", "correct horse battery", "admin").active = False
    campaign, contacts = newsletter(6)
    for contact in contacts:
        smtp_server.rcpt_replies[contact.email] = REFUSAL
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()

    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status == "paused"
    alerts = _alerts(smtp_server)
    assert sorted(m.rcpt_tos[0] for m in alerts) == ["admin@example.com", "owner@example.com"]
    mail = alerts[0].message
    text = mail.get_body(("plain",)).get_content()
    assert "“Spring” was paused automatically" in text and "5.7.26" in text
    for check in ("DKIM", "SPF", "DMARC", "blocklists", f"/admin/campaigns/{campaign.public_id}"):
        assert check in text, check
    assert "List-Unsubscribe" not in mail  # an internal message, not marketing

    shown = page(auth.get(f"/admin/campaigns/{campaign.public_id}"))
    assert (
        "refuse this campaign for policy reasons (5.7.x)" in shown
        and "What to check before you resume" in shown
    )
    assert "Blocklists" in shown and "2 owners/admins alerted by email" in shown
    dashboard = page(auth.get("/admin/"))
    assert f'data-paused-campaign="{campaign.public_id}"' in dashboard and "5.7.26" in dashboard
    assert "refuse this campaign for policy reasons" in dashboard

    # Resumed, it is refused again: a second pause, a second alert (one per pause, never one per batch).
    campaigns.resume_campaign(db.session.get(Campaign, campaign.id))
    db.session.commit()
    worker.drain()
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status == "paused"
    assert len(_alerts(smtp_server)) == 4
    events = (
        db.session.execute(select(AuditEvent).where(AuditEvent.action == "campaign.auto_pause"))
        .scalars()
        .all()
    )
    assert [e.details for e in events] == [{"kind": "policy", "notified": 2}] * 2


def test_a_pause_by_a_person_alerts_nobody_and_shows_no_advice(app, app_ctx, auth, smtp_server):
    campaign, _ = newsletter(1)
    campaign.status = "sending"
    db.session.commit()
    campaigns.pause_campaign(campaign)
    db.session.commit()
    shown = page(auth.get(f"/admin/campaigns/{campaign.public_id}"))
    assert "Paused by a person." in shown and "What to check before you resume" not in shown
    assert "data-paused-campaign" not in page(auth.get("/admin/"))
    assert not _alerts(smtp_server)
