"""system emails: a list's re-confirmation email edited per language (owner: a form or a list)

Revision ID: 0054
Revises: 0053
"""

import sqlalchemy as sa
from alembic import op

revision = "0054"
down_revision = "0053"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("system_emails", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "list_id",
                sa.Integer(),
                sa.ForeignKey(
                    "mailing_lists.id", name="fk_system_emails_list_id_mailing_lists", ondelete="CASCADE"
                ),
                nullable=True,
            )
        )
        batch_op.alter_column("form_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_index("ix_system_emails_list_id", ["list_id"], unique=False)
        batch_op.create_unique_constraint(
            "uq_system_emails_list_kind_language", ["list_id", "kind", "language"]
        )


def downgrade():
    op.execute("DELETE FROM system_emails WHERE list_id IS NOT NULL")
    with op.batch_alter_table("system_emails", schema=None) as batch_op:
        batch_op.drop_constraint("uq_system_emails_list_kind_language", type_="unique")
        batch_op.drop_index("ix_system_emails_list_id")
        batch_op.drop_column("list_id")
        batch_op.alter_column("form_id", existing_type=sa.Integer(), nullable=False)
