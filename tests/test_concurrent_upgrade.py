"""`flask db upgrade` runs as every container starts: several at once on an empty database take turns (an
advisory lock on PostgreSQL, a file lock on SQLite) and all succeed, leaving one schema at the newest
revision."""

import os
import subprocess
import sys
import uuid

from sqlalchemy import create_engine, text

from tests.support.db import create_postgres_database, drop_postgres_database

FLASK = os.path.join(os.path.dirname(sys.executable), "flask")
STARTS = 3


def _upgrade_concurrently(url: str) -> list[subprocess.CompletedProcess]:
    env = dict(os.environ, MAILER_ENV="testing", DATABASE_URL=url)
    for name in ("TEST_DATABASE_URL", "TEST_REDIS_URL", "REDIS_URL", "FLASK_APP"):
        env.pop(name, None)
    started = [
        subprocess.Popen(
            [FLASK, "--app", "wsgi", "db", "upgrade"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(STARTS)
    ]
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=600), p.stdout.read()) for p in started]


def _newest_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from mailer import ROOT

    config = Config()
    config.set_main_option("script_location", os.path.join(ROOT, "migrations"))
    [head] = ScriptDirectory.from_config(config).get_heads()
    return head


def test_concurrent_upgrades_on_an_empty_database_all_succeed(backend, tmp_path):
    if backend == "sqlite":
        url, drop = f"sqlite:///{tmp_path}/fresh.db", None
    else:
        name = f"mailer_upgrade_{uuid.uuid4().hex[:10]}"
        url, drop = create_postgres_database(os.environ["TEST_DATABASE_URL"], name), name
    try:
        runs = _upgrade_concurrently(url)
        assert [run.returncode for run in runs] == [0] * STARTS, "\n".join(run.stdout[-2000:] for run in runs)
        engine = create_engine(url)
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        engine.dispose()
        assert versions == [_newest_revision()]
    finally:
        if drop:
            drop_postgres_database(os.environ["TEST_DATABASE_URL"], drop)
