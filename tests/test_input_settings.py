"""The input-limit settings the README documents are read from the environment by config.py."""

import mailer
from mailer import create_app
from tests.support.proxy import app_config_from_environment


def test_import_size_test_send_cap_and_response_floor_come_from_the_environment(monkeypatch, database_url):
    app_config_from_environment(
        monkeypatch,
        IMPORT_MAX_MB="3",
        IMPORT_LANES="3",
        TEST_SEND_RATE_LIMIT="4 per hour",
        SIGNUP_RESPONSE_FLOOR_MS="320",
    )
    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": database_url})
    assert (app.config["IMPORT_MAX_MB"], app.config["TEST_SEND_RATE_LIMIT"]) == (3, "4 per hour")
    assert app.config["IMPORT_LANES"] == 3
    # Tests run with no floor (TestingConfig); every other environment takes it from the variable.
    assert mailer.CONFIGS["production"].SIGNUP_RESPONSE_FLOOR_MS == 320
    assert mailer.CONFIGS["development"].SIGNUP_RESPONSE_FLOOR_MS == 320
    app.extensions["mailer.workers"].broker.close()


def test_the_import_folder_comes_from_the_environment(monkeypatch, tmp_path):
    folder = str(tmp_path / "uploads")
    app_config_from_environment(monkeypatch, IMPORT_DIR=folder)
    assert folder == mailer.CONFIGS["production"].IMPORT_DIR == mailer.CONFIGS["development"].IMPORT_DIR


def test_defaults_match_the_readme(app):
    assert (app.config["IMPORT_MAX_MB"], app.config["TEST_SEND_RATE_LIMIT"]) == (200, "20 per hour")
    assert app.config["IMPORT_LANES"] == 2
    assert mailer.CONFIGS["production"].IMPORT_DIR == ""  # the instance folder's imports/
    assert mailer.CONFIGS["production"].SIGNUP_RESPONSE_FLOOR_MS == 250
