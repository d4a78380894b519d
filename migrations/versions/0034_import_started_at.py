"""contact imports: when the worker started one (for the rate shown while it runs)

Revision ID: 0034
Revises: 0033
"""

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contact_imports") as batch:
        batch.add_column(sa.Column("started_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("contact_imports") as batch:
        batch.drop_column("started_at")
