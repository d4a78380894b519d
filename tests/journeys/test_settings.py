"""The journeys' settings the README documents are read from the environment, and the scheduler uses them."""

from mailer import create_app
from mailer.scheduler import build_scheduler
from tests.support.proxy import app_config_from_environment


def test_tick_and_batch_size_come_from_the_environment(monkeypatch, database_url):
    app_config_from_environment(
        monkeypatch, JOURNEY_TICK_SECONDS="7", JOURNEY_BATCH_SIZE="123", JOURNEY_TRIGGER_SECONDS="45"
    )
    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": database_url})
    assert (app.config["JOURNEY_TICK_SECONDS"], app.config["JOURNEY_BATCH_SIZE"]) == (7, 123)
    assert app.config["JOURNEY_TRIGGER_SECONDS"] == 45
    job = build_scheduler(app).get_job("advance_journeys")
    assert job.trigger.interval.total_seconds() == 7
    app.extensions["mailer.workers"].broker.close()


def test_defaults_match_the_readme(app):
    assert (app.config["JOURNEY_TICK_SECONDS"], app.config["JOURNEY_BATCH_SIZE"]) == (15, 500)
    assert app.config["JOURNEY_TRIGGER_SECONDS"] == 60
