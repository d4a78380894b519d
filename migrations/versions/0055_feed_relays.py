"""feed campaigns: the relay (and failover relay) their campaigns are sent through

Revision ID: 0055
Revises: 0054
"""

import sqlalchemy as sa
from alembic import op

revision = "0055"
down_revision = "0054"
branch_labels = None
depends_on = None

COLUMNS = ("relay_id", "failover_relay_id")


def upgrade():
    # The foreign keys inline in add_column: batch mode on SQLite rebuilds the table with them.
    with op.batch_alter_table("feeds") as batch:
        for column in COLUMNS:
            batch.add_column(
                sa.Column(
                    column,
                    sa.Integer(),
                    sa.ForeignKey("relays.id", name=op.f(f"fk_feeds_{column}_relays"), ondelete="SET NULL"),
                    nullable=True,
                )
            )


def downgrade():
    with op.batch_alter_table("feeds") as batch:
        for column in COLUMNS:
            batch.drop_constraint(op.f(f"fk_feeds_{column}_relays"), type_="foreignkey")
        for column in COLUMNS:
            batch.drop_column(column)
