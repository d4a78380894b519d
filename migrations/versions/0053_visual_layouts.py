"""visual layouts: layouts.html_format (html or visual) and layouts.project (the block editor's design)

Revision ID: 0053
Revises: 0052
"""

import sqlalchemy as sa
from alembic import op

revision = "0053"
down_revision = "0052"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("layouts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("html_format", sa.String(length=10), nullable=False, server_default="html")
        )
        batch_op.add_column(sa.Column("project", sa.Text(), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("layouts", schema=None) as batch_op:
        batch_op.drop_column("project")
        batch_op.drop_column("html_format")
