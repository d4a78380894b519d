"""languages: contacts.language (the recipient's), forms.language (fixed, or empty to follow the browser)

Revision ID: 0036
Revises: 0035
"""

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=10), nullable=True))
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=10), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.drop_column("language")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("language")
