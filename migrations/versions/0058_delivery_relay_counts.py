"""delivery relay counts: deliveries per campaign, relay and status, kept by triggers like migration 0031's

Revision ID: 0058
Revises: 0057

A campaign's page says how many of its messages each relay accepted (failover shows as two relays); counting
them read every delivery of the campaign. This counter table is the fourth of mailer/core/counters.py: signed
deltas per (campaign_id, relay, status) written by triggers on deliveries in the writer's transaction (per
statement over the transition tables on PostgreSQL, per row on SQLite). The trigger text is 0031's (read from
that frozen migration, so both stay the same); the backfill counts what exists.
"""

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0058"
down_revision = "0057"
branch_labels = None
depends_on = None

TABLE, COUNTED = "delivery_relay_counts", "deliveries"
COLUMNS = {"campaign_id": sa.Integer(), "relay": sa.String(63), "status": sa.String(20)}


def _triggers(dialect: str) -> list[str]:
    """0031's trigger statements for this table (the same text as the three counter tables have)."""
    spec = importlib.util.spec_from_file_location(
        "migration_0031_counter_tables", Path(__file__).with_name("0031_counter_tables.py")
    )
    assert spec is not None and spec.loader is not None
    frozen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(frozen)
    make = frozen._postgresql if dialect == "postgresql" else frozen._sqlite
    return make(TABLE, COUNTED, list(COLUMNS))


def upgrade():
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        *(sa.Column(name, kind, nullable=True) for name, kind in COLUMNS.items()),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE}")),
    )
    op.create_index(op.f(f"ix_{TABLE}_group"), TABLE, list(COLUMNS), unique=False)
    cols = ", ".join(COLUMNS)
    op.execute(f"INSERT INTO {TABLE} ({cols}, n) SELECT {cols}, count(*) FROM {COUNTED} GROUP BY {cols}")
    for statement in _triggers(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    for event in ("insert", "delete", "update"):
        op.execute(
            f"DROP TRIGGER IF EXISTS {TABLE}_{event}" + (f" ON {COUNTED}" if dialect == "postgresql" else "")
        )
        if dialect == "postgresql":
            op.execute(f"DROP FUNCTION IF EXISTS {TABLE}_{event}()")
    op.drop_index(op.f(f"ix_{TABLE}_group"), table_name=TABLE)
    op.drop_table(TABLE)
