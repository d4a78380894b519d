"""organisation website: public pages link back to the organisation's site

Revision ID: 0046
Revises: 0045
"""

import sqlalchemy as sa
from alembic import op

revision = "0046"
down_revision = "0045"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("organisation_settings") as batch:
        batch.add_column(sa.Column("website", sa.String(length=500), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("organisation_settings") as batch:
        batch.drop_column("website")
