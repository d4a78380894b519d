"""custom contact fields on sign-up forms; a value type per field

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contact_fields", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("value_type", sa.String(length=10), server_default="text", nullable=False)
        )
    op.create_table(
        "form_fields",
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("field_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["field_id"],
            ["contact_fields.id"],
            name=op.f("fk_form_fields_field_id_contact_fields"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["form_id"], ["forms.id"], name=op.f("fk_form_fields_form_id_forms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("form_id", "field_id", name=op.f("pk_form_fields")),
    )


def downgrade():
    op.drop_table("form_fields")
    with op.batch_alter_table("contact_fields", schema=None) as batch_op:
        batch_op.drop_column("value_type")
