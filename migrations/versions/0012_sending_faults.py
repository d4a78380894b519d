"""sending survives faults: per-delivery backoff, in-flight marks, worker heartbeats, campaign counters

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("not_before_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("handed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("worker_id", sa.String(length=40), nullable=True))
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waiting_reason", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("waiting_until", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("relay_failures", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("open_deliveries", sa.Integer(), nullable=False, server_default="0"))
    # Campaigns already under way start with an exact count of their open deliveries.
    op.execute(
        "UPDATE campaigns SET open_deliveries = (SELECT count(*) FROM deliveries "
        "WHERE deliveries.campaign_id = campaigns.id AND deliveries.status IN ('queued', 'sending'))"
    )
    op.create_table(
        "send_workers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_workers")),
    )
    with op.batch_alter_table("send_workers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_send_workers_heartbeat_at"), ["heartbeat_at"], unique=False)


def downgrade():
    with op.batch_alter_table("send_workers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_send_workers_heartbeat_at"))
    op.drop_table("send_workers")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("open_deliveries")
        batch_op.drop_column("relay_failures")
        batch_op.drop_column("waiting_until")
        batch_op.drop_column("waiting_reason")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("worker_id")
        batch_op.drop_column("handed_at")
        batch_op.drop_column("not_before_at")
