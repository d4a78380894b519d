"""TX_MAX_DATA_BYTES, documented in the README, is read from the environment."""

from mailer import create_app
from tests.support.proxy import app_config_from_environment


def test_payload_limit_comes_from_the_environment(monkeypatch, database_url):
    app_config_from_environment(monkeypatch, TX_MAX_DATA_BYTES="2048")
    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": database_url})
    assert app.config["TX_MAX_DATA_BYTES"] == 2048
    app.extensions["mailer.workers"].broker.close()


def test_default_matches_the_readme(app):
    assert app.config["TX_MAX_DATA_BYTES"] == 16384
