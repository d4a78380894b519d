"""named SMTP relays: relays table, the campaign's relay and failover relay, the relay of each delivery

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "relays",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("tls_mode", sa.String(length=10), nullable=False),
        sa.Column("verify_tls", sa.Boolean(), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("password_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("rate_per_second", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relays")),
        sa.UniqueConstraint("name", name=op.f("uq_relays_name")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("relay_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("failover_relay_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_campaigns_relay_id_relays"), "relays", ["relay_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_campaigns_failover_relay_id_relays"),
            "relays",
            ["failover_relay_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("relay", sa.String(length=63), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("relay")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_campaigns_failover_relay_id_relays"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_campaigns_relay_id_relays"), type_="foreignkey")
        batch_op.drop_column("failover_relay_id")
        batch_op.drop_column("relay_id")
    op.drop_table("relays")
