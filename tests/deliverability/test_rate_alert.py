"""A pause by the bounce or complaint rate alerts the owners and admins: one email each per pause (through the
normal transport), naming the campaign, the domain, the rate and the limit and where to resume, and the
Deliverability page shows the alert beside the paused campaign."""

import pytest
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns.models import Campaign
from mailer.core.extensions import db
from mailer.deliverability.inbound import process_report
from mailer.staff.accounts import create_staff
from tests.deliverability.bounce_support import (
    campaign_left_sending,
    campaign_state,
    report,
    send_campaign,
    subscribers,
)
from tests.support.signup import page


def _alerts(smtp_server) -> list:
    return [m for m in smtp_server.messages if "paused" in (m.message["Subject"] or "")]


@pytest.mark.config(COMPLAINT_RATE_MIN_VOLUME=10, BOUNCE_RATE_PAUSE_THRESHOLD=10)
def test_a_pause_by_the_bounce_rate_emails_owners_and_admins_once_and_shows_on_the_deliverability_page(
    app, news, worker, smtp_server, auth
):
    create_staff("admin@example.com", "correct horse battery", "admin")
    create_staff("editor@example.com", "correct horse battery", "marketer")
    db.session.commit()
    people = subscribers(news, *(f"person{i}@example.net" for i in range(5)))
    _, sent = send_campaign(worker, news)
    summer = campaign_left_sending(app, news, "Summer")
    workers = app.extensions["mailer.workers"]
    workers.start_worker(threads=2)  # the alert emails need a worker; Summer's batches are its own
    check = workers.actors["check_sending_rates"]
    for person in people[:2]:
        process_report(report("postfix_hard_5.1.1.eml", sent[person.email]))

    check()
    worker.drain()
    check()  # the next scheduled check finds it paused already: no second alert
    worker.drain()

    assert campaign_state(summer)[0] == "paused"
    alerts = _alerts(smtp_server)
    assert sorted(m.rcpt_tos[0] for m in alerts) == ["admin@example.com", "owner@example.com"]
    mail = alerts[0].message
    assert mail["Subject"] == (
        "Campaign “Summer” paused: the bounce or complaint rate of its sending domain is above the limit"
    )
    text = mail.get_body(("plain",)).get_content()
    for expected in (
        "“Summer” was paused automatically",
        "2 bounce report(s) about mail from example.com",
        "a bounce rate of 20.00 %, above the 10 % limit (BOUNCE_RATE_PAUSE_THRESHOLD)",
        "resume the campaign on its page",
        f"/admin/campaigns/{summer.public_id}",
    ):
        assert expected in " ".join(text.split()), expected
    assert "person0@example.net" not in text and "List-Unsubscribe" not in mail
    paused = select(AuditEvent).where(AuditEvent.action == "campaign.auto_pause")
    events = db.session.execute(paused).scalars()
    assert [(e.target_id, e.details["kind"], e.details["domain"]) for e in events] == [
        (summer.public_id, "rate", "example.com")
    ]

    shown = page(auth.get("/admin/deliverability"))
    assert f'data-rate-paused="{summer.public_id}"' in shown
    assert "2 owners/admins alerted by email." in shown and "the campaign's page" in shown

    # Resumed while the rate is still above: paused again at the next check, and alerted again (once).
    workers.stop_worker()  # so the resumed campaign waits for the check instead of finishing first
    campaigns.resume_campaign(db.session.get(Campaign, summer.id))
    db.session.commit()
    check()
    workers.start_worker(threads=2)
    worker.drain()
    assert campaign_state(summer)[0] == "paused"
    assert len(_alerts(smtp_server)) == 4
