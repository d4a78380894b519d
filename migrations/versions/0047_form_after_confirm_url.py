"""forms: an optional page of the organisation's site to send people to after they confirm

Revision ID: 0047
Revises: 0046
"""

import sqlalchemy as sa
from alembic import op

revision = "0047"
down_revision = "0046"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("forms") as batch:
        batch.add_column(
            sa.Column("after_confirm_url", sa.String(length=500), nullable=False, server_default="")
        )


def downgrade():
    with op.batch_alter_table("forms") as batch:
        batch.drop_column("after_confirm_url")
