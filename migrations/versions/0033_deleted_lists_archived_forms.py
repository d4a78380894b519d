"""deleted lists and archived or deleted forms: mailing_lists.deleted_at, forms.archived_at, forms.deleted_at

A deleted list or form stays as a tombstone: the ledger, the notices and campaign history refer to it.

Revision ID: 0033
Revises: 0032
"""

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("mailing_lists", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("archived_at")
    with op.batch_alter_table("mailing_lists", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
