"""A real `dramatiq mailer.worker` process killed with SIGKILL mid-batch: nothing is lost, nothing is resent.

Only what was inside an SMTP transaction may be uncertain; everything else it had claimed is sent later, once.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns.models import Campaign
from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from tests.support.campaigns import campaign_status, deliveries, newsletter, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
THREADS = 2


def _worker_process(app, smtp_server, log_path):
    """Start a worker process (its own process group, so SIGKILL reaches dramatiq's children too)."""
    env = dict(
        os.environ,
        MAILER_ENV="development",
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=app.config["REDIS_URL"],
        REDIS_NAMESPACE=app.config["REDIS_NAMESPACE"],
        SMTP_URL=smtp_server.url,
        SECRET_KEY=app.config["SECRET_KEY"],
        MAILER_HASH_KEY=app.config["MAILER_HASH_KEY"],
        MAILER_BASE_URL=app.config["MAILER_BASE_URL"],
        MAILER_POSTAL_ADDRESS=app.config["MAILER_POSTAL_ADDRESS"],
        SEND_RATE_PER_SECOND=str(app.config["SEND_RATE_PER_SECOND"]),
        SEND_CHUNK_SIZE=str(app.config["SEND_CHUNK_SIZE"]),
        SEND_PIPELINE_DEPTH=str(app.config["SEND_PIPELINE_DEPTH"]),
        SEND_WORKER_DEAD_AFTER_SECONDS=str(app.config["SEND_WORKER_DEAD_AFTER_SECONDS"]),
    )
    log = open(log_path, "ab")  # noqa: SIM115 - the worker process writes to it after this returns
    return subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "mailer.worker", "-p", "1", "-t", str(THREADS)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _kill(process, sig=signal.SIGKILL):
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    process.wait(timeout=30)


@pytest.mark.config(
    SEND_RATE_PER_SECOND=40, SEND_CHUNK_SIZE=10, SEND_PIPELINE_DEPTH=3, SEND_WORKER_DEAD_AFTER_SECONDS=2
)
def test_worker_killed_mid_batch_loses_nothing_and_resends_nothing(
    app, app_ctx, backend, smtp_server, tmp_path
):
    if backend == "sqlite":
        pytest.skip("embedded mode has no separate worker process: its in-memory broker lives inside the app")
    campaign, _contacts = newsletter(60)
    campaigns.start_campaign(campaign)
    db.session.commit()

    first = _worker_process(app, smtp_server, tmp_path / "worker1.log")
    try:
        with smtp_server.arrived:
            arrived = smtp_server.arrived.wait_for(lambda: len(smtp_server.messages) >= 15, timeout=60)
        assert arrived, (tmp_path / "worker1.log").read_text()
    finally:
        _kill(first)  # SIGKILL: no cleanup, no acks, claimed deliveries left in "sending"
    killed_at = time.monotonic()
    held = [d for d in deliveries(campaign) if d.status == "sending"]
    handed = {d.id for d in held if d.handed_at is not None}
    assert held, "the kill should have caught deliveries in flight"
    assert len(handed) <= THREADS * (app.config["SEND_PIPELINE_DEPTH"] + 1)

    # What the scheduler does every few seconds: the dead worker's heartbeat goes stale, recovery acts on it.
    report = wait_for(
        lambda: (r := campaigns.recover_stuck(scheduled=True)) and r["dead_workers"] and r,
        timeout=20,
        what="recovery to notice the dead worker",
    )
    assert time.monotonic() - killed_at < 10
    assert report["uncertain"] <= len(handed) and report["released"] == len(held) - report["uncertain"]
    uncertain_now = {d.id for d in deliveries(campaign) if d.status == "uncertain"}
    assert uncertain_now <= handed
    assert all(
        "during the SMTP transaction" in d.reason for d in deliveries(campaign) if d.status == "uncertain"
    )

    second = _worker_process(app, smtp_server, tmp_path / "worker2.log")  # the restart
    try:
        wait_for(lambda: campaign_status(campaign) == "sent", timeout=90, what="the campaign to finish")
    finally:
        _kill(second, signal.SIGTERM)

    final = deliveries(campaign)
    assert len(final) == 60 and {d.status for d in final} <= {"sent", "uncertain"}
    assert {d.id for d in final if d.status == "uncertain"} == uncertain_now
    email_of = dict(db.session.execute(select(Contact.id, Contact.email)).all())
    sent = {email_of[d.contact_id] for d in final if d.status == "sent"}
    uncertain = {email_of[d.contact_id] for d in final if d.status == "uncertain"}
    received = [m.rcpt_tos[0] for m in smtp_server.messages]
    assert len(received) == len(set(received))  # nobody got it twice
    assert sent <= set(received) and set(received) - sent <= uncertain  # uncertain ones were never resent
    assert all(d.attempts == 1 for d in final if d.status == "sent")  # a released claim gave its attempt back
    progress = campaigns.progress(db.session.get(Campaign, campaign.id))
    assert progress["uncertain"] == len(uncertain_now) and progress["remaining"] == 0
    assert db.session.get(Campaign, campaign.id).open_deliveries == 0
