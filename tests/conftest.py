"""Shared fixtures: an app per test on SQLite (always) and on PostgreSQL + Redis (when configured).

Every test that takes `app` runs once per backend. Each run gets its own database and Redis key space and
removes them afterwards. Outgoing mail goes to the local outbox unless a test asks for `smtp_server`.
"""

import os
import uuid

import jinja2
import pytest
from playwright.sync_api import expect
from sqlalchemy import text
from werkzeug.routing.rules import Rule

from mailer import create_app
from mailer.core.extensions import db
from tests.support.db import create_postgres_database, drop_postgres_database, empty_tables, migrate_schema
from tests.support.smtp import SmtpCapture
from tests.support.workers import FailureRecorder, drain

# Playwright's expect timeout for every browser test (tests/browser, tests/production), set once here: it is
# one setting per process, so a module setting its own changes it for every test collected after it (as
# tests/production once did, down to 10 s for all of them). A loaded CI machine can be slow: four test
# processes and their Chromiums on two cores took more than 10 s for a campaign preview or a page after the
# second factor. Assertions still pass as soon as they hold.
expect.set_options(timeout=20_000)

pytest_plugins = ["tests.support.browser", "tests.support.media", "tests.support.s3"]

RUN_ID = uuid.uuid4().hex[:10]
IN_CI = os.environ.get("CI", "").lower() == "true"


def _backends() -> list[str]:
    backends = ["sqlite"]
    if os.environ.get("TEST_DATABASE_URL") and os.environ.get("TEST_REDIS_URL"):
        backends.append("postgres")
    elif IN_CI:
        raise pytest.UsageError(
            "CI=true needs TEST_DATABASE_URL and TEST_REDIS_URL: the PostgreSQL/Redis runs "
            "must not be skipped"
        )
    return backends


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: the test is about SQLite itself")
    config.addinivalue_line(
        "markers", "postgres_only: the test is about PostgreSQL's locking (run whenever PostgreSQL is set)"
    )
    config.addinivalue_line(
        "markers", "slow: takes minutes in the full run (-n 4 on two cores); started before the others"
    )


def pytest_collection_modifyitems(config, items):
    """The longest tests first within each backend: with -n 4 the run ends when its last long test does, so a
    long one collected late (tests/test_hostile_input.py sorts after every folder) would run alone at the end.
    Items stay grouped by backend as pytest ordered them (its session-wide database is set up once per
    backend); tests without one go first. Stable: the others keep their order."""
    backends: dict[str, int] = {}
    for item in items:
        backend = getattr(item, "callspec", None) and item.callspec.params.get("backend")
        if backend:
            backends.setdefault(backend, len(backends))

    def rank(item) -> tuple[int, bool]:
        backend = getattr(item, "callspec", None) and item.callspec.params.get("backend")
        return (backends[backend] if backend else -1, item.get_closest_marker("slow") is None)

    items.sort(key=rank)


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        backends = _backends()
        if metafunc.definition.get_closest_marker("sqlite_only"):
            backends = ["sqlite"]
        if metafunc.definition.get_closest_marker("postgres_only"):
            backends = [name for name in backends if name == "postgres"]
        metafunc.parametrize("backend", backends, scope="session")


@pytest.fixture(scope="session")
def database_url(backend, tmp_path_factory):
    """One migrated database per backend for the whole run, removed at the end."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'mailer.db'}"
        migrate_schema(url)
        yield url
        return
    url = create_postgres_database(os.environ["TEST_DATABASE_URL"], f"mailer_test_{RUN_ID}")
    migrate_schema(url)
    yield url
    drop_postgres_database(os.environ["TEST_DATABASE_URL"], f"mailer_test_{RUN_ID}")


@pytest.fixture
def redis_namespace(backend):
    """A fresh Redis key space per test (deleted afterwards), or None on the embedded backend."""
    if backend != "postgres":
        yield None
        return
    import redis

    namespace = f"mailer-test-{RUN_ID}-{uuid.uuid4().hex[:8]}"
    yield namespace
    client = redis.Redis.from_url(os.environ["TEST_REDIS_URL"])
    keys = list(client.scan_iter(match=f"{namespace}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


class _SharedTemplateCache(jinja2.BytecodeCache):
    """Compiled page templates shared by every test's app in this process: each test builds a fresh app,
    whose Jinja environment would otherwise parse and compile every template it renders again (about a fifth
    of an admin page test's CPU time). Keyed by template name and source checksum: an edit recompiles."""

    def __init__(self):
        self.codes: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self.codes.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.codes[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CACHE = _SharedTemplateCache()

_werkzeug_compile_builder = Rule._compile_builder
_URL_BUILDERS: dict[tuple, object] = {}


def _shared_url_builder(self: Rule, append_unknown: bool = True):
    """werkzeug compiles two URL-building functions per route of every new app (generated Python, then
    `compile()`): about 90 % of create_app's time, which each test pays. The function depends only on the
    rule's parsed parts and defaults and reaches its rule through its `.self` argument, so the tests' apps
    share one per distinct rule (the app itself, and production, are unchanged)."""
    defaults = repr(sorted((self.defaults or {}).items()))
    key = (self.rule, self.host, self.subdomain, tuple(self._trace), defaults, append_unknown)
    builder = _URL_BUILDERS.get(key)
    if builder is None:
        builder = _URL_BUILDERS[key] = _werkzeug_compile_builder(self, append_unknown)
    return builder


Rule._compile_builder = _shared_url_builder  # type: ignore[method-assign]


def _config_overrides(request) -> dict:
    overrides = {}
    for marker in reversed(list(request.node.iter_markers("config"))):
        overrides.update(marker.kwargs)
    return overrides


@pytest.fixture
def app(request, backend, database_url, redis_namespace):
    """A fresh app on an empty database; `@pytest.mark.config(KEY=value)` overrides settings."""
    config = {"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": database_url}
    if redis_namespace:
        config.update(REDIS_URL=os.environ["TEST_REDIS_URL"], REDIS_NAMESPACE=redis_namespace)
    if "smtp_server" in request.fixturenames:
        config["SMTP_URL"] = request.getfixturevalue("smtp_server").url
    if "live_server" in request.fixturenames:
        config["MAILER_BASE_URL"] = request.getfixturevalue("live_server_url")
    config.update(_config_overrides(request))
    application = create_app(config)
    application.jinja_env.bytecode_cache = TEMPLATE_CACHE
    application.extensions["mailer.workers"].broker.add_middleware(FailureRecorder())
    yield application
    workers = application.extensions["mailer.workers"]
    workers.stop_worker()
    with application.app_context():
        db.session.remove()
        empty_tables(db.engine)
        db.engine.dispose()
    workers.broker.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def app_ctx(app):
    """An app context for direct service calls, popped after the test."""
    with app.app_context():
        yield


@pytest.fixture
def worker(app):
    """The real dramatiq worker (threads) on the app's broker; `worker.drain()` waits for every queue."""
    workers = app.extensions["mailer.workers"]
    workers.start_worker(threads=2)

    class Handle:
        def drain(self):
            drain(app)

    yield Handle()
    workers.stop_worker()


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on loopback that keeps every message it receives."""
    capture = SmtpCapture()
    capture.start()
    yield capture
    capture.stop()


@pytest.fixture
def demo_form(app_ctx):
    """The seeded demo form (one list, open/click tracking purposes)."""
    from mailer.demo import seed_demo

    return seed_demo()


@pytest.fixture
def staff_user(app_ctx):
    """An owner account: owner@example.com / correct horse battery."""
    from mailer.staff.accounts import create_staff

    user = create_staff("owner@example.com", "correct horse battery", "owner")
    db.session.commit()
    return user


@pytest.fixture
def auth(client, staff_user):
    """Log the test client in as the owner."""
    from tests.support.http import login

    login(client, "owner@example.com", "correct horse battery")
    return client


def sql(statement: str, **params):
    """Run raw SQL in the current app context (for tamper tests)."""
    result = db.session.execute(text(statement), params)
    db.session.commit()
    return result
