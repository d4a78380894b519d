"""The sending-fault settings the README documents are read from the environment by config.py."""

from mailer import create_app
from mailer.scheduler import build_scheduler
from tests.support.proxy import app_config_from_environment


def test_fault_settings_come_from_the_environment(monkeypatch, database_url):
    app_config_from_environment(
        monkeypatch,
        SEND_PIPELINE_DEPTH="7",
        SEND_RELAY_RETRY_SECONDS="2.5",
        SEND_WORKER_DEAD_AFTER_SECONDS="12",
        SEND_RECOVERY_SECONDS="3",
        SEND_STUCK_AFTER_SECONDS="600",
        SEND_RETRY_BACKOFF_SECONDS="30",
    )
    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": database_url})
    config = app.config
    assert (
        config["SEND_PIPELINE_DEPTH"],
        config["SEND_RELAY_RETRY_SECONDS"],
        config["SEND_WORKER_DEAD_AFTER_SECONDS"],
        config["SEND_STUCK_AFTER_SECONDS"],
        config["SEND_RETRY_BACKOFF_SECONDS"],
    ) == (7, 2.5, 12, 600, 30.0)
    recovery = build_scheduler(app).get_job("recover_stuck_deliveries")
    assert recovery.trigger.interval.total_seconds() == 3  # a dead worker costs seconds, not minutes
    app.extensions["mailer.workers"].broker.close()


def test_recovery_runs_every_five_seconds_by_default(app):
    assert build_scheduler(app).get_job("recover_stuck_deliveries").trigger.interval.total_seconds() == 5
    assert build_scheduler(app).get_job("start_due_campaigns").trigger.interval.total_seconds() == 60
