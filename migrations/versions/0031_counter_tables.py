"""counter tables: subscriptions per list and status, contacts per status, deliveries per campaign and status

Revision ID: 0031
Revises: 0030

Pages over a million contacts read totals from these instead of counting rows (mailer/core/counters.py).
Each holds signed deltas written by triggers on the counted table, in the writer's transaction: on PostgreSQL
one trigger per statement over its transition table (a 5,000-row import batch writes one delta per group), on
SQLite one per row. The backfill counts what exists. The trigger text is frozen here: a change is a new
migration.
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

# counter table -> (counted table, grouping columns and their types)
COUNTERS = {
    "subscription_counts": ("subscriptions", {"list_id": sa.Integer(), "status": sa.String(20)}),
    "contact_counts": ("contacts", {"status": sa.String(20)}),
    "delivery_counts": ("deliveries", {"campaign_id": sa.Integer(), "status": sa.String(20)}),
}


def _postgresql(table: str, counted: str, columns: list[str]) -> list[str]:
    cols = ", ".join(columns)
    bodies = {
        "insert": f"INSERT INTO {table} ({cols}, n) SELECT {cols}, count(*) FROM new_rows GROUP BY {cols};",
        "delete": f"INSERT INTO {table} ({cols}, n) SELECT {cols}, -count(*) FROM old_rows GROUP BY {cols};",
        # rows whose group did not change cancel out: nothing is written for them
        "update": (
            f"INSERT INTO {table} ({cols}, n) SELECT {cols}, sum(d) FROM ("
            f"SELECT {cols}, 1 AS d FROM new_rows UNION ALL SELECT {cols}, -1 FROM old_rows) AS moved "
            f"GROUP BY {cols} HAVING sum(d) <> 0;"
        ),
    }
    statements = []
    for event, body in bodies.items():
        name = f"{table}_{event}"
        tables = {
            "insert": "NEW TABLE AS new_rows",
            "delete": "OLD TABLE AS old_rows",
            "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        }[event]
        statements.append(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body} RETURN NULL; END $$"
        )
        statements.append(
            f"CREATE TRIGGER {name} AFTER {event.upper()} ON {counted} REFERENCING {tables} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    return statements


def _sqlite(table: str, counted: str, columns: list[str]) -> list[str]:
    cols = ", ".join(columns)

    def values(row: str, n: int) -> str:
        return f"INSERT INTO {table} ({cols}, n) VALUES ({', '.join(f'{row}.{c}' for c in columns)}, {n});"

    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)
    return [
        f"CREATE TRIGGER {table}_insert AFTER INSERT ON {counted} BEGIN {values('NEW', 1)} END",
        f"CREATE TRIGGER {table}_delete AFTER DELETE ON {counted} BEGIN {values('OLD', -1)} END",
        f"CREATE TRIGGER {table}_update AFTER UPDATE OF {cols} ON {counted} WHEN {changed} "
        f"BEGIN {values('OLD', -1)} {values('NEW', 1)} END",
    ]


def upgrade():
    dialect = op.get_bind().dialect.name
    for table, (counted, columns) in COUNTERS.items():
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), nullable=False),
            *(sa.Column(name, kind, nullable=True) for name, kind in columns.items()),
            sa.Column("n", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        )
        op.create_index(op.f(f"ix_{table}_group"), table, list(columns), unique=False)
        cols = ", ".join(columns)
        op.execute(f"INSERT INTO {table} ({cols}, n) SELECT {cols}, count(*) FROM {counted} GROUP BY {cols}")
        make = _postgresql if dialect == "postgresql" else _sqlite
        for statement in make(table, counted, list(columns)):
            op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    for table, (counted, _) in COUNTERS.items():
        for event in ("insert", "delete", "update"):
            op.execute(
                f"DROP TRIGGER IF EXISTS {table}_{event}"
                + (f" ON {counted}" if dialect == "postgresql" else "")
            )
            if dialect == "postgresql":
                op.execute(f"DROP FUNCTION IF EXISTS {table}_{event}()")
        op.drop_index(op.f(f"ix_{table}_group"), table_name=table)
        op.drop_table(table)
