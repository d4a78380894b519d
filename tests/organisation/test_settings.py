"""The organisation's settings: stored values reach every reader; environment variables override them."""

import pytest

import mailer
from mailer.core.extensions import db
from mailer.organisation import settings
from tests.support.proxy import app_config_from_environment

FRESH = pytest.mark.config(
    MAILER_POSTAL_ADDRESS="", MAILER_FROM="", MAILER_ORGANISATION="", MAILER_REPLY_TO=""
)
VALUES = settings.OrganisationInput(
    "Green Grocers", "1 Market St, Berlin", "Green News", "News@GreenGrocers.example", ""
)


@FRESH
def test_a_fresh_install_has_working_defaults_and_asks_for_the_real_values(app_ctx):
    assert (settings.name(), settings.postal_address(), settings.sender_text()) == (
        settings.DEFAULT_NAME,
        "",
        settings.DEFAULT_SENDER,
    )
    assert settings.is_filled_in() == {"name": False, "postal_address": False, "sender": False}
    assert settings.save(VALUES) == ["name", "from_name", "postal_address", "from_email"]
    db.session.commit()
    assert settings.name() == "Green Grocers" and settings.postal_address() == "1 Market St, Berlin"
    assert str(settings.sender()) == "Green News <news@greengrocers.example>"
    assert settings.is_filled_in() == {"name": True, "postal_address": True, "sender": True}


@FRESH
def test_refusals_name_each_field(app_ctx):
    with pytest.raises(settings.SettingsRefused) as refused:
        settings.save(settings.OrganisationInput("", "a\x1bb", "News <x@y.example>", "", "nope"))
    assert set(refused.value.errors) == {"name", "postal_address", "from_name", "from_email", "reply_to"}
    assert "invisible control codes" in refused.value.errors["postal_address"]


@pytest.mark.config(
    MAILER_ORGANISATION="Env Org",
    MAILER_FROM="Env <env@example.com>",
    MAILER_REPLY_TO="r@example.com",
    MAILER_POSTAL_ADDRESS="",
)
def test_variables_win_over_stored_values(app_ctx):
    settings.save(VALUES)
    assert settings.name() == "Env Org" and str(settings.sender()) == "Env <env@example.com>"
    assert settings.reply_to() == "r@example.com" and settings.postal_address() == "1 Market St, Berlin"
    assert set(settings.set_by_environment()) == {"name", "sender", "reply_to"}


def test_the_variables_are_read_from_the_environment(monkeypatch):
    environment = {
        "MAILER_ORGANISATION": "Shop Ltd",
        "MAILER_POSTAL_ADDRESS": "2 High St, Leeds",
        "MAILER_FROM": "Shop <shop@example.com>",
        "MAILER_REPLY_TO": "care@example.com",
        "MAILER_WEBSITE_URL": "https://shop.example/",
    }
    app_config_from_environment(monkeypatch, **environment)
    for name in ("production", "development"):
        assert {key: getattr(mailer.CONFIGS[name], key) for key in environment} == environment
    assert set(settings.ENVIRONMENT.values()) == set(environment)
