"""ab_tests: a campaign's A/B test, its variants, and each delivery's variant

Revision ID: 0051
Revises: 0050
"""

import sqlalchemy as sa
from alembic import op

revision = "0051"
down_revision = "0050"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ab_tests",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("test_percent", sa.Integer(), nullable=False),
        sa.Column("wait_minutes", sa.Integer(), nullable=False),
        sa.Column("criterion", sa.String(length=10), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=True),
        sa.Column("sample_size", sa.Integer(), nullable=False),
        sa.Column("last_test_batch", sa.Integer(), nullable=False),
        sa.Column("sample_planned_at", sa.DateTime(), nullable=True),
        sa.Column("decide_at", sa.DateTime(), nullable=True),
        sa.Column("winner", sa.SmallInteger(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decision", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_ab_tests_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["staff_users.id"],
            name=op.f("fk_ab_tests_decided_by_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_ab_tests")),
    )
    op.create_table(
        "ab_variants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("label", sa.String(length=60), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("from_name", sa.String(length=120), nullable=False),
        sa.Column("body_format", sa.String(length=10), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_project", sa.Text(), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("compiled_html", sa.Text(), nullable=False),
        sa.Column("compiled_text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_ab_variants_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ab_variants")),
        sa.UniqueConstraint("campaign_id", "position", name="uq_ab_variants_campaign_position"),
    )
    op.create_index(op.f("ix_ab_variants_campaign_id"), "ab_variants", ["campaign_id"])
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("variant", sa.SmallInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("variant")
    op.drop_index(op.f("ix_ab_variants_campaign_id"), table_name="ab_variants")
    op.drop_table("ab_variants")
    op.drop_table("ab_tests")
