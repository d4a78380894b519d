"""The application factory: configuration contract and refusal of unsafe production settings."""

import subprocess
import sys

import pytest

from mailer import create_app


def test_production_refuses_the_default_secret_key(tmp_path):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(
            {
                "MAILER_ENV": "production",
                "SECRET_KEY": "dev-insecure-change-me",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
            }
        )


def test_production_refuses_to_derive_the_address_index_key(tmp_path):
    with pytest.raises(RuntimeError, match="MAILER_HASH_KEY"):
        create_app(
            {
                "MAILER_ENV": "production",
                "SECRET_KEY": "a" * 40,
                "MAILER_HASH_KEY": "",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
            }
        )


def test_production_starts_with_a_real_secret_and_secure_cookies(tmp_path):
    app = create_app(
        {
            "MAILER_ENV": "production",
            "SECRET_KEY": "a" * 40,
            "MAILER_HASH_KEY": "b" * 40,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
        }
    )
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert not app.config["WORKER_EMBEDDED"] and not app.config["AUTO_MIGRATE"]


@pytest.mark.parametrize("environment", ["production", "development"])
def test_staff_passwords_are_hashed_at_the_full_scrypt_cost_outside_the_tests(tmp_path, environment):
    """Only the test configuration lowers the work factor (config.py, TestingConfig)."""
    from mailer.staff.models.accounts import StaffUser

    app = create_app(
        {
            "MAILER_ENV": environment,
            "SECRET_KEY": "a" * 40,
            "MAILER_HASH_KEY": "b" * 40,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
            "SEED_DEMO": False,
            "AUTO_MIGRATE": False,
            "WORKER_EMBEDDED": False,
            "SCHEDULER_EMBEDDED": False,
        }
    )
    with app.app_context():
        user = StaffUser(email="owner@example.com", role="owner")
        user.set_password("correct horse battery")
        assert user.password_hash.startswith("scrypt:32768:8:1$")
        assert user.check_password("correct horse battery") and not user.check_password("wrong")


def test_unknown_environment_name_is_refused():
    with pytest.raises(RuntimeError, match="MAILER_ENV"):
        create_app({"MAILER_ENV": "staging"})


def test_postgres_urls_use_psycopg3(tmp_path):
    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": "postgres://u@127.0.0.1/db"})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@127.0.0.1/db"


def test_postgres_sessions_run_without_jit(app, backend):
    """Compiling a large grouped query to machine code took seconds on PostgreSQL (the compliance preview at
    100,000 contacts: 5.4 s of 5.9 s) to save milliseconds: the app's sessions turn JIT off, whatever the
    server's default."""
    from sqlalchemy import text

    from mailer.core.extensions import db

    if backend != "postgres":
        pytest.skip("JIT is PostgreSQL's")
    with app.app_context():
        assert db.session.execute(text("SHOW jit")).scalar_one() == "off"
        db.session.rollback()
        with db.engine.connect() as other:  # every pooled connection, not only the first
            assert other.execute(text("SHOW jit")).scalar_one() == "off"


def test_embedded_mode_without_redis_uses_an_in_memory_broker_and_the_outbox(tmp_path):
    from dramatiq.brokers.stub import StubBroker

    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    assert isinstance(app.extensions["mailer.workers"].broker, StubBroker)
    with app.app_context():
        from mailer.delivery.transport import OutboxTransport, get_transport

        assert isinstance(get_transport(), OutboxTransport)


def test_the_package_imports_and_builds_an_app_outside_the_repository(tmp_path):
    """An installed mailer finds its settings module (config.py) whatever the working directory."""
    settings = {"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"}
    script = (
        f"import mailer; app = mailer.create_app({settings!r}); "
        "print(app.config['MAILER_ENV'], len(app.blueprints))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["testing", "4"]
