"""The webhooks' settings the README documents are read from the environment, and the scheduler uses them."""

from mailer import create_app
from mailer.scheduler import build_scheduler
from tests.support.proxy import app_config_from_environment

NAMES = (
    "WEBHOOK_TIMEOUT_SECONDS",
    "WEBHOOK_RETRY_SCHEDULE",
    "WEBHOOK_DISABLE_AFTER_FAILURES",
    "WEBHOOK_DISABLE_AFTER_HOURS",
    "WEBHOOK_SECRET_GRACE_HOURS",
    "WEBHOOK_TICK_SECONDS",
    "WEBHOOK_LOG_RETENTION_DAYS",
)


def test_every_setting_comes_from_the_environment(monkeypatch, database_url):
    app_config_from_environment(
        monkeypatch,
        WEBHOOK_TIMEOUT_SECONDS="3.5",
        WEBHOOK_RETRY_SCHEDULE="1,2,3",
        WEBHOOK_DISABLE_AFTER_FAILURES="7",
        WEBHOOK_DISABLE_AFTER_HOURS="2",
        WEBHOOK_SECRET_GRACE_HOURS="48",
        WEBHOOK_TICK_SECONDS="9",
        WEBHOOK_LOG_RETENTION_DAYS="14",
    )
    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": database_url})
    assert [app.config[name] for name in NAMES] == [3.5, "1,2,3", 7, 2.0, 48.0, 9, 14]
    assert build_scheduler(app).get_job("dispatch_webhooks").trigger.interval.total_seconds() == 9
    app.extensions["mailer.workers"].broker.close()


def test_defaults_match_the_readme(app):
    assert [app.config[name] for name in NAMES] == [
        10.0,
        "5,300,1800,7200,18000,36000,36000",
        20,
        24.0,
        24.0,
        5,
        30,
    ]
    assert app.config["MAILER_OUTBOUND_ALLOW_HOSTS"] == []
