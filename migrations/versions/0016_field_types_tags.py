"""typed custom fields (choices, yes/no; number and date values typed for segments) and contact tags

Revision ID: 0016
Revises: 0015
"""

from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _backfill_typed_values() -> None:
    """Existing number and date values get their typed copy (they were checked when stored)."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT v.contact_id, v.field_id, v.value, f.value_type FROM contact_field_values v "
            "JOIN contact_fields f ON f.id = v.field_id "
            "WHERE f.value_type IN ('number', 'date') AND f.category != 'sensitive' AND v.value IS NOT NULL"
        )
    ).all()
    for contact_id, field_id, value, value_type in rows:
        try:
            number = float(value) if value_type == "number" else None
            day = date.fromisoformat(value) if value_type == "date" else None
        except ValueError:
            continue
        bind.execute(
            sa.text(
                "UPDATE contact_field_values SET number_value = :n, date_value = :d "
                "WHERE contact_id = :c AND field_id = :f"
            ),
            {"n": number, "d": day, "c": contact_id, "f": field_id},
        )


def upgrade():
    with op.batch_alter_table("contact_fields", schema=None) as batch_op:
        batch_op.alter_column(
            "value_type",
            existing_type=sa.String(length=10),
            type_=sa.String(length=20),
            existing_nullable=False,
            existing_server_default="text",
        )
        batch_op.add_column(sa.Column("choices", sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
    with op.batch_alter_table("contact_field_values", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number_value", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("date_value", sa.Date(), nullable=True))
        batch_op.create_index("ix_contact_field_values_field_value", ["field_id", "value"], unique=False)
        batch_op.create_index(
            "ix_contact_field_values_field_number", ["field_id", "number_value"], unique=False
        )
        batch_op.create_index("ix_contact_field_values_field_date", ["field_id", "date_value"], unique=False)
    _backfill_typed_values()

    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("key", name=op.f("uq_tags_key")),
    )
    op.create_table(
        "contact_tags",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_tags_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name=op.f("fk_contact_tags_tag_id_tags"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("contact_id", "tag_id", name=op.f("pk_contact_tags")),
    )
    with op.batch_alter_table("contact_tags", schema=None) as batch_op:
        batch_op.create_index("ix_contact_tags_tag_contact", ["tag_id", "contact_id"], unique=False)


def downgrade():
    with op.batch_alter_table("contact_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_tags_tag_contact")
    op.drop_table("contact_tags")
    op.drop_table("tags")
    with op.batch_alter_table("contact_field_values", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_field_values_field_date")
        batch_op.drop_index("ix_contact_field_values_field_number")
        batch_op.drop_index("ix_contact_field_values_field_value")
        batch_op.drop_column("date_value")
        batch_op.drop_column("number_value")
    with op.batch_alter_table("contact_fields", schema=None) as batch_op:
        batch_op.drop_column("choices")
        batch_op.alter_column(
            "value_type",
            existing_type=sa.String(length=20),
            type_=sa.String(length=10),
            existing_nullable=False,
            existing_server_default="text",
        )
