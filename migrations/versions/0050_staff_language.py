"""staff language: staff_users.language, the admin's language each staff member chose (none: the browser's)

Revision ID: 0050
Revises: 0049
"""

import sqlalchemy as sa
from alembic import op

revision = "0050"
down_revision = "0049"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=10), nullable=True))


def downgrade():
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_column("language")
