"""list re-permission requests (bulk action "ask to re-confirm the list")

Revision ID: 0039
Revises: 0038
"""

import sqlalchemy as sa
from alembic import op

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "list_reconfirmations",
        sa.Column(
            "list_id", sa.Integer(), sa.ForeignKey("mailing_lists.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "contact_id", sa.Integer(), sa.ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("bulk_job", sa.String(32), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("asked_at", sa.DateTime(), nullable=False),
        sa.Column("deadline_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("list_id", "contact_id"),
    )
    op.create_index("ix_list_reconfirmations_deadline_at", "list_reconfirmations", ["deadline_at"])
    op.create_index("ix_list_reconfirmations_contact_id", "list_reconfirmations", ["contact_id"])


def downgrade():
    op.drop_index("ix_list_reconfirmations_contact_id", table_name="list_reconfirmations")
    op.drop_index("ix_list_reconfirmations_deadline_at", table_name="list_reconfirmations")
    op.drop_table("list_reconfirmations")
