"""provider webhook events stored by the request and acted on by the worker (payload, pending index)

Revision ID: 0027
Revises: 0026
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("provider_event_receipts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch_op.create_index("ix_provider_event_receipts_outcome_id", ["outcome", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("provider_event_receipts", schema=None) as batch_op:
        batch_op.drop_index("ix_provider_event_receipts_outcome_id")
        batch_op.drop_column("payload")
