"""contact imports: when the worker started one (for the rate shown while it runs)

Revision ID: 0035
Revises: 0034
"""

import sqlalchemy as sa
from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contact_imports") as batch:
        batch.add_column(sa.Column("started_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("contact_imports") as batch:
        batch.drop_column("started_at")
