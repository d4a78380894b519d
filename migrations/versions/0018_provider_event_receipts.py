"""provider webhook event receipts (replay protection, last event per provider)

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "provider_event_receipts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("event_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("delivery_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_event_receipts")),
        sa.UniqueConstraint("provider", "event_key", name="uq_provider_event_receipts_provider_key"),
    )
    with op.batch_alter_table("provider_event_receipts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_provider_event_receipts_provider_received", ["provider", "received_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("provider_event_receipts", schema=None) as batch_op:
        batch_op.drop_index("ix_provider_event_receipts_provider_received")
    op.drop_table("provider_event_receipts")
