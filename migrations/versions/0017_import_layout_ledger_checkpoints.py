"""contact imports keep how their file is read (layout: encoding, delimiter, columns, mapping); ledger
checkpoints for incremental `flask consent verify`

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contact_imports") as batch:
        batch.add_column(sa.Column("layout", sa.JSON(), nullable=True))
    op.create_table(
        "ledger_checkpoints",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("verified_at", sa.DateTime(), nullable=False),
    )


def downgrade():
    op.drop_table("ledger_checkpoints")
    with op.batch_alter_table("contact_imports") as batch:
        batch.drop_column("layout")
