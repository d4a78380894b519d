"""A relay's permanent refusal at send time (5xx at RCPT or DATA) is a bounce like a DSN: the same
classification, a bounce log row (source smtp) that counts toward the sending domain's bounce rate, and the
same suppression rule (BOUNCE_HARD_LIMIT)."""

import pytest

from mailer.campaigns import lifecycle as campaigns
from mailer.core.extensions import db
from mailer.deliverability.domains import recent_rate
from tests.deliverability.bounce_support import delivery_state, events, suppression_reason
from tests.support.campaigns import deliveries, newsletter
from tests.support.signup import page


def _send(worker, campaign):
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    return {d.contact_id: d for d in deliveries(campaign)}


def test_a_550_at_rcpt_is_a_hard_bounce_in_the_log_the_rate_and_the_suppression_list(
    app, app_ctx, auth, worker, smtp_server
):
    campaign, people = newsletter(3)
    refused = people[1]
    smtp_server.rcpt_replies[refused.email] = f"550 5.1.1 <{refused.email}>: Recipient address rejected"

    sent = _send(worker, campaign)

    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == [people[0].email, people[2].email]
    assert delivery_state(sent[refused.id].id).status == "bounced"
    (row,) = events()
    assert (row.kind, row.source, row.status_code) == ("hard", "smtp", "5.1.1")
    assert row.action_taken == "suppressed"
    assert (row.delivery_id, row.contact_id) == (sent[refused.id].id, refused.id)
    assert row.campaign_id == campaign.id
    assert refused.email not in row.diagnostic and "Recipient address rejected" in row.diagnostic
    assert suppression_reason(refused) == "hard_bounce"
    assert suppression_reason(people[0]) is None
    assert recent_rate("example.com").counts["bounces"] == 1  # the pause rule counts it

    shown = page(auth.get("/admin/deliverability"))
    assert "5.1.1" in shown and "Recipient address rejected" in shown


@pytest.mark.config(BOUNCE_HARD_LIMIT=2)
def test_the_suppression_rule_is_the_dsns_one_and_a_policy_refusal_blames_our_setup_not_the_address(
    app, app_ctx, worker, smtp_server
):
    campaign, people = newsletter(2)
    smtp_server.rcpt_replies[people[0].email] = "550 5.1.1 No such user here"
    smtp_server.rcpt_replies[people[1].email] = "550 5.7.26 Unauthenticated email is not accepted (DMARC)"

    _send(worker, campaign)

    rows = {row.contact_id: row for row in events()}
    hard, policy = rows[people[0].id], rows[people[1].id]
    assert (hard.kind, hard.action_taken) == ("hard", "counted")  # 1 of 2 hard bounces: not yet
    assert (policy.kind, policy.status_code, policy.action_taken) == ("policy", "5.7.26", "operator_alert")
    assert suppression_reason(people[0]) is None and suppression_reason(people[1]) is None
    assert recent_rate("example.com").counts["bounces"] == 1  # policy refusals are about us
