"""draft versions: each save of a campaign draft keeps the fields it replaced (undo, restore)

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "draft_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("saved_at", sa.DateTime(), nullable=False),
        sa.Column("saved_by_id", sa.Integer(), nullable=True),
        sa.Column("autosave", sa.Boolean(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_draft_versions_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["saved_by_id"],
            ["staff_users.id"],
            name=op.f("fk_draft_versions_saved_by_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft_versions")),
    )
    with op.batch_alter_table("draft_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_draft_versions_campaign_id"), ["campaign_id"], unique=False)


def downgrade():
    with op.batch_alter_table("draft_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_draft_versions_campaign_id"))
    op.drop_table("draft_versions")
