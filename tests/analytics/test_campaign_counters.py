"""A campaign's page reads kept totals per relay, not a count of its deliveries (issue 13): after a real send
through two relays (the first stops part-way, so the second takes over; some recipients refused for good at
RCPT; a bounce reported afterwards; deliveries made uncertain by a set-based UPDATE) the totals equal the
count(*) they replace, and the page shows them."""

from collections import Counter

import pytest
from sqlalchemy import select, text

from mailer.campaigns import lifecycle as campaigns
from mailer.core import counters
from mailer.core.extensions import db
from mailer.deliverability.inbound import process_report
from mailer.delivery.models import Delivery
from mailer.delivery.relays import RelayFields, TlsMode, save_relay
from tests.deliverability.bounce_support import report
from tests.support.campaigns import deliveries, newsletter
from tests.support.relay import RecordingRelay
from tests.support.smtp import _free_port

pytestmark = pytest.mark.config(SEND_RATE_PER_SECOND=0, SEND_BATCH_SIZE=20, SEND_CHUNK_SIZE=10)


@pytest.fixture
def relays():
    made = {"primary": RecordingRelay(_free_port()), "backup": RecordingRelay(_free_port())}
    yield made
    for relay in made.values():
        relay.close()


def _named(name: str, relay: RecordingRelay):
    fields = RelayFields(name=name, host="127.0.0.1", port=relay.port, tls_mode=TlsMode.NONE)
    return save_relay(None, fields)


def _recounted(campaign_id: int) -> dict[tuple[str, str, int | None], int]:
    rows = db.session.execute(
        text(
            "SELECT relay, status, tracking, count(*) FROM deliveries WHERE campaign_id = :c "
            "GROUP BY relay, status, tracking"
        ),
        {"c": campaign_id},
    )
    return {(relay, status, tracking): n for relay, status, tracking, n in rows}


def test_relay_totals_equal_a_recount_after_a_send_with_failover(app, auth, worker, relays):
    primary, backup = relays["primary"], relays["backup"]
    primary.down_after = 12  # accepts 12 messages, then stops: the backup takes the rest
    primary.refuse_share(15)
    backup.refuse_share(15)  # the same recipients are refused for good on both (550 5.1.1)
    primary.start()
    backup.start()
    with app.app_context():
        campaign, _ = newsletter(50)
        campaign.relay_id = _named("primary", primary).id
        campaign.failover_relay_id = _named("backup", backup).id
        db.session.commit()
        campaigns.start_campaign(campaign)
        db.session.commit()
        worker.drain()

        rows = deliveries(campaign)
        by_state = Counter((d.relay, d.status) for d in rows)
        assert by_state[("primary", "sent")] >= 12 and by_state[("backup", "sent")] > 0  # failed over
        assert by_state[("", "bounced")] > 0  # refused for good at RCPT by either relay
        bounced = next(d for d in rows if d.status == "sent" and d.relay == "backup")
        assert process_report(report("postfix_hard_5.1.1.eml", bounced)).status == "recorded"
        db.session.commit()
        # A set-based writer (as recovery does): two sent deliveries become uncertain in one statement.
        two = [d.id for d in rows if d.status == "sent" and d.relay == "primary"][:2]
        db.session.execute(Delivery.__table__.update().where(Delivery.id.in_(two)).values(status="uncertain"))
        db.session.commit()

        db.session.expire_all()
        kept = counters.totals("delivery_relay_counts", campaign_id=campaign.id)
        recounted = _recounted(campaign.id)
        assert kept == recounted
        assert {status for _, status, _ in recounted} == {"sent", "bounced", "uncertain"}
        for table in counters.COUNTERS:
            assert counters.drift(table) == {}, table
        public_id = campaign.public_id

    # What staff see: the page's figures per relay are the recounted ones.
    shown = auth.get(f"/admin/campaigns/{public_id}").text
    by_relay = Counter()
    for (relay, status, _tracking), n in recounted.items():
        if status == "sent":
            by_relay[relay] += n
    sent = sorted(by_relay.items(), key=lambda r: (-r[1], r[0]))
    line = " · ".join(f"<strong>{relay}</strong> {n}" for relay, n in sent)
    assert f"Sent through {line}." in shown


def test_compaction_keeps_the_relay_totals(app, app_ctx, worker, relays):
    relays["backup"].start()  # "primary" never listens: everything fails over
    campaign, _ = newsletter(6)
    campaign.relay_id = _named("primary", relays["primary"]).id
    campaign.failover_relay_id = _named("backup", relays["backup"]).id
    db.session.commit()
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()

    counters.compact("delivery_relay_counts")
    db.session.commit()
    # nobody consented to tracking (tracking 0: none, as it was read for each message)
    assert counters.totals("delivery_relay_counts", campaign_id=campaign.id) == {("backup", "sent", 0): 6}
    groups = db.session.execute(
        select(text("count(*)")).select_from(text("delivery_relay_counts")).where(text("campaign_id = :c")),
        {"c": campaign.id},
    ).scalar_one()
    assert groups == 1
