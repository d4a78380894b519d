"""The Alembic migrations build exactly the schema the models describe, on SQLite and on PostgreSQL."""

import os
import pprint

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from mailer import ROOT
from mailer.core.extensions import db


def _context(connection) -> MigrationContext:
    # The same comparison options `flask db migrate` uses (see mailer.core.extensions.migrate).
    return MigrationContext.configure(connection, opts={"compare_type": True, "render_as_batch": True})


def test_database_is_at_the_newest_migration(app, app_ctx):
    config = Config()
    config.set_main_option("script_location", os.path.join(ROOT, "migrations"))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"the migrations have branched: {heads}"
    with db.engine.connect() as connection:
        assert _context(connection).get_current_heads() == tuple(heads)


def test_migrations_and_models_agree(app, app_ctx):
    with db.engine.connect() as connection:
        differences = compare_metadata(_context(connection), db.metadata)
    assert differences == [], "models and migrations differ:\n" + pprint.pformat(differences)
