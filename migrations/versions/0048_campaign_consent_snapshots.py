"""campaign consent snapshots: a finished campaign's consenting-when-sent counts, kept for its stats page

Revision ID: 0048
Revises: 0047
"""

import sqlalchemy as sa
from alembic import op

revision = "0048"
down_revision = "0047"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "campaign_consent_snapshots",
        sa.Column("campaign_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.Column("open_consenting", sa.Integer(), nullable=False),
        sa.Column("click_consenting", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_consent_snapshots_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_campaign_consent_snapshots")),
    )


def downgrade():
    op.drop_table("campaign_consent_snapshots")
