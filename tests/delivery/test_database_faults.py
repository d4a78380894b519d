"""PostgreSQL connections killed while a campaign is sending: nothing is lost, nothing is sent twice."""

import threading

import psycopg
import pytest

from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns.models import Campaign
from mailer.core.extensions import db
from tests.support.campaigns import campaign_status, deliveries, newsletter, wait_for
from tests.support.engine_steps import open_count_is_exact


def _kill_connections(url: str) -> int:
    """What a database restart does to the app: every connection to its database is cut."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        return len(
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        )


@pytest.mark.config(SEND_RATE_PER_SECOND=40, SEND_CHUNK_SIZE=10, SEND_PIPELINE_DEPTH=3)
def test_connections_cut_while_sending_lose_nothing(app, app_ctx, backend, worker, smtp_server):
    if backend == "sqlite":
        pytest.skip("a file database has no connections to cut")
    campaign, contacts = newsletter(60)
    campaigns.start_campaign(campaign)
    db.session.commit()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    cuts = []

    def cut_twice():
        for count in (10, 30):
            with smtp_server.arrived:
                smtp_server.arrived.wait_for(lambda n=count: len(smtp_server.messages) >= n, timeout=60)
            cuts.append(_kill_connections(url))

    cutter = threading.Thread(target=cut_twice)
    cutter.start()
    cutter.join(timeout=90)
    assert len(cuts) == 2 and all(cuts), cuts  # the workers' connections really were cut, twice
    wait_for(lambda: campaign_status(campaign) == "sent", timeout=90, what="the campaign to finish")
    worker.drain()

    final = deliveries(campaign)
    assert {d.status for d in final} == {"sent"} and all(d.attempts == 1 for d in final)
    received = sorted(m.rcpt_tos[0] for m in smtp_server.messages)
    assert received == sorted(c.email for c in contacts)  # each exactly once
    assert open_count_is_exact(campaign) and db.session.get(Campaign, campaign.id).open_deliveries == 0
