"""consent coverage triggers lock the ledger head with SELECT ... FOR UPDATE, not an UPDATE

Revision ID: 0063
Revises: 0062

0060's coverage triggers (functions as 0061 left them) took the ledger head's lock with `UPDATE ledger_head
SET last_event_id = last_event_id`, which writes a new version of the one head row each time. Within one
transaction those versions cannot be pruned, and every later lookup of the head walks them all: a transaction
of n single-row statements on subscriptions or consent_states cost O(n^2) (the endpoints bench's seeding of
110,000 consent states one statement each ran past 11 minutes). `SELECT ... FOR UPDATE` takes a lock that
conflicts with the same writers (ledger appends lock the head FOR UPDATE or UPDATE it) and writes no new
version. Same counts, same serialisation. PostgreSQL only (SQLite's triggers take no row lock).
"""

import importlib.util
import os

from alembic import op

revision = "0063"
down_revision = "0062"
branch_labels = None
depends_on = None

_UPDATE_LOCK = "UPDATE ledger_head SET last_event_id = last_event_id WHERE id = 1;"
_SELECT_LOCK = "PERFORM 1 FROM ledger_head WHERE id = 1 FOR UPDATE;"


def _functions_of_0061() -> list[str]:
    """0061's trigger functions (its text is frozen), which this migration changes only in how they lock."""
    path = os.path.join(os.path.dirname(__file__), "0061_coverage_counter_lookups.py")
    spec = importlib.util.spec_from_file_location("migration_0061", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [*module._postgresql_functions("subscriptions"), *module._postgresql_functions("consent_states")]


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        for statement in _functions_of_0061():
            assert _UPDATE_LOCK in statement
            op.execute(statement.replace(_UPDATE_LOCK, _SELECT_LOCK))


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for statement in _functions_of_0061():
            op.execute(statement)
