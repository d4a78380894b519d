"""delivery tracking consent: each delivery keeps the recipient's tracking consent when it was handed over,
and delivery_relay_counts counts by it

Revision ID: 0064
Revises: 0063

A campaign's stats give open and click rates among the recipients who had consented to that tracking when
their message was sent. That number was counted over the ledger (every delivery joined with its contact's
consent states, and the ledger searched where a state changed after the send): 2.6–3.2 s at a million
deliveries on the first view of a finished campaign, and on every view while it sends. The worker reads the
same consent at send time to decide whether the message carries a pixel and tracked links, so it now writes
it on the delivery as it hands the message over (`deliveries.tracking`: bit 1 opens, bit 2 clicks), and
delivery_relay_counts (0058) groups by it too, so the stats page reads the counts from the counter table.
The triggers are 0031's text with the extra column. Deliveries handed over before this migration keep NULL
(and so do the counter rows that count them): their campaigns' stats still count from the ledger.
"""

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0064"
down_revision = "0063"
branch_labels = None
depends_on = None

TABLE, COUNTED = "delivery_relay_counts", "deliveries"
BEFORE = ["campaign_id", "relay", "status"]
AFTER = [*BEFORE, "tracking"]


def _triggers(dialect: str, columns: list[str]) -> list[str]:
    """0031's trigger statements for this table over these columns."""
    spec = importlib.util.spec_from_file_location(
        "migration_0031_counter_tables", Path(__file__).with_name("0031_counter_tables.py")
    )
    assert spec is not None and spec.loader is not None
    frozen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(frozen)
    make = frozen._postgresql if dialect == "postgresql" else frozen._sqlite
    return make(TABLE, COUNTED, columns)


def _drop_triggers(dialect: str) -> None:
    for event in ("insert", "delete", "update"):
        op.execute(
            f"DROP TRIGGER IF EXISTS {TABLE}_{event}" + (f" ON {COUNTED}" if dialect == "postgresql" else "")
        )
        if dialect == "postgresql":
            op.execute(f"DROP FUNCTION IF EXISTS {TABLE}_{event}()")


def upgrade():
    dialect = op.get_bind().dialect.name
    _drop_triggers(dialect)
    op.add_column(COUNTED, sa.Column("tracking", sa.SmallInteger(), nullable=True))
    op.add_column(TABLE, sa.Column("tracking", sa.SmallInteger(), nullable=True))
    op.drop_index(op.f(f"ix_{TABLE}_group"), table_name=TABLE)
    op.create_index(op.f(f"ix_{TABLE}_group"), TABLE, AFTER, unique=False)
    for statement in _triggers(dialect, AFTER):
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    _drop_triggers(dialect)
    # fold the counts by tracking back into one row per (campaign, relay, status) before the column goes
    cols = ", ".join(BEFORE)
    op.execute(
        f"CREATE TABLE {TABLE}_folded AS SELECT {cols}, sum(n) AS n FROM {TABLE} GROUP BY {cols} "
        "HAVING sum(n) <> 0"
    )
    op.execute(f"DELETE FROM {TABLE}")
    op.execute(f"INSERT INTO {TABLE} ({cols}, n) SELECT {cols}, n FROM {TABLE}_folded")
    op.execute(f"DROP TABLE {TABLE}_folded")
    op.drop_index(op.f(f"ix_{TABLE}_group"), table_name=TABLE)
    # plain ALTER TABLE (SQLite 3.35+ has it): a batch copy of deliveries would lose its other triggers
    op.execute(f"ALTER TABLE {TABLE} DROP COLUMN tracking")
    op.execute(f"ALTER TABLE {COUNTED} DROP COLUMN tracking")
    op.create_index(op.f(f"ix_{TABLE}_group"), TABLE, BEFORE, unique=False)
    for statement in _triggers(dialect, BEFORE):
        op.execute(statement)
