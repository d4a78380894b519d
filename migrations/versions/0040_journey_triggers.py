"""journey triggers and steps: segment joined, date field, list steps, a relay per journey

Revision ID: 0040
Revises: 0039
"""

import sqlalchemy as sa
from alembic import op

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None

FOREIGN = (
    ("trigger_segment_id", "segments"),
    ("date_field_id", "contact_fields"),
    ("relay_id", "relays"),
    ("failover_relay_id", "relays"),
)


def upgrade():
    with op.batch_alter_table("journeys") as batch:
        for column, _ in FOREIGN:
            batch.add_column(sa.Column(column, sa.Integer(), nullable=True))
        batch.add_column(sa.Column("trigger_checked_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("date_hour", sa.Integer(), nullable=False, server_default="9"))
        batch.add_column(sa.Column("date_yearly", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("date_offset_days", sa.Integer(), nullable=False, server_default="0"))
        for column, table in FOREIGN:
            batch.create_foreign_key(
                op.f(f"fk_journeys_{column}_{table}"), table, [column], ["id"], ondelete="SET NULL"
            )
    op.create_table(
        "journey_segment_members",
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["journey_id"],
            ["journeys.id"],
            name=op.f("fk_journey_segment_members_journey_id_journeys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_journey_segment_members_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("journey_id", "contact_id", name=op.f("pk_journey_segment_members")),
    )


def downgrade():
    op.drop_table("journey_segment_members")
    with op.batch_alter_table("journeys") as batch:
        for column, table in FOREIGN:
            batch.drop_constraint(op.f(f"fk_journeys_{column}_{table}"), type_="foreignkey")
        for column in ("date_offset_days", "date_yearly", "date_hour", "trigger_checked_at"):
            batch.drop_column(column)
        for column, _ in FOREIGN:
            batch.drop_column(column)
